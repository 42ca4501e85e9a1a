import { openingKeys, type Config } from "../config.ts";
import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { and, desc, eq, or, sql } from "drizzle-orm";
import type { AppDeps } from "../deps.ts";
import { errors, Nullable, Timestamp } from "../http/schemas.ts";
import { requirePrincipal } from "../http/context.ts";
import { bindOutboxScope, openPayload } from "./outbox.ts";
import { outbox } from "./tables.ts";
import { NO_CONTROL_CHARS } from "../members/rules.ts";

const MailItem = Type.Object({
  id: Type.String({ description: "Also the Message-ID's local part and the delivery's idempotency key." }),
  kind: Type.String({ description: "invitation, password_reset or removal_notice" }),
  to: Type.String(),
  subject: Type.String(),
  text: Type.String(),
  html: Type.String(),
  status: Type.String({ description: "pending, sending, sent or failed" }),
  createdAt: Timestamp,
  sentAt: Nullable(Timestamp),
});

/** Whether this configuration serves the dev mailbox (also answered by `GET /v1/capabilities`). */
export function hasDevMailbox(config: Pick<Config, "smtpUrl">): boolean {
  return !config.smtpUrl;
}

/**
 * The dev mailbox exists only when no SMTP_URL is configured: mail then never leaves the installation and
 * this is where a developer (or the console) reads it.
 */
export async function devMailboxRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  if (!hasDevMailbox(deps.config)) return;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/v1/dev/mailbox",
    {
      schema: {
        tags: ["dev"],
        operationId: "listDevMailbox",
        summary: "Dev mailbox",
        description:
          "Only without SMTP_URL. The messages the signed-in user may read: those addressed to their own email, and the invitations they sent (so an admin can pass a link on while no mail server is configured). Password-reset links are shown to their recipient only. Newest first, at most `limit`.",
        querystring: Type.Object(
          {
            to: Type.Optional(
              Type.String({ maxLength: 254, pattern: NO_CONTROL_CHARS, description: "Only messages to this address." }),
            ),
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ data: Type.Array(MailItem), nextCursor: Type.Null() }), ...errors(400, 401) },
      },
    },
    async (req) => {
      const p = requirePrincipal(req);
      const email = p.user.email.toLowerCase();
      const rows = await deps.db.tx({ userId: p.user.id }, async (tx) => {
        await bindOutboxScope(tx);
        const mine = or(
          sql`lower(${outbox.toAddress}) = ${email}`,
          and(eq(outbox.kind, "invitation"), eq(outbox.causedBy, p.user.id)),
        );
        const to = req.query.to ? sql`lower(${outbox.toAddress}) = ${req.query.to.toLowerCase()}` : undefined;
        return tx
          .select()
          .from(outbox)
          .where(and(mine, to))
          .orderBy(desc(outbox.createdAt), desc(outbox.id))
          .limit(req.query.limit);
      });
      const data = rows.flatMap((row) => {
        const content = openPayload(openingKeys(deps.config), row);
        return content
          ? [
              {
                id: row.id,
                kind: row.kind,
                to: row.toAddress,
                ...content,
                status: row.status,
                createdAt: row.createdAt,
                sentAt: row.sentAt,
              },
            ]
          : [];
      });
      return { data, nextCursor: null };
    },
  );
}
