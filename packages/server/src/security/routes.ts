import type { FastifyInstance } from "fastify";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type, type TSchema } from "@sinclair/typebox";
import type { AppDeps } from "../deps.ts";
import { errors, Nullable, OrgParams } from "../http/schemas.ts";
import { orgContext, requireSession } from "../http/context.ts";
import { requestMeta } from "../http/request-meta.ts";
import { readSecurity, updateSecurity } from "./service.ts";

const Domain = Type.String({
  minLength: 3,
  maxLength: 253,
  pattern: "^\\s*(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}\\s*$",
  description: "e.g. example.com",
});
const Factor = Type.Literal("totp");
const SuspendedKeys = Type.Union([Type.Literal("active"), Type.Literal("paused")], {
  description:
    "What a deactivated member's API keys do: keep working (default, integrations must not break) or pause until reactivation.",
});

const Security = Type.Object({
  requireMfa: Type.Boolean({
    description: "Members without a factor reach only enrolment (403 mfa_enrollment_required elsewhere).",
  }),
  allowedFactors: Type.Array(Factor, { description: "Factors members may use. TOTP is the one Roster offers." }),
  sessionIdleMinutes: Nullable(
    Type.Integer({ description: "Sessions idle this long end on this org's routes; null: the installation default." }),
  ),
  sessionMaxHours: Nullable(
    Type.Integer({ description: "Sessions older than this end on this org's routes; null: the installation default." }),
  ),
  suspendedMemberApiKeys: SuspendedKeys,
  allowedEmailDomains: Type.Array(Type.String(), {
    description: "Where set (departments preset), primary emails must be at one of these domains.",
  }),
  invitationLifetimeHours: Type.Integer(),
  accessReviewEveryDays: Nullable(
    Type.Integer({ description: "An access review of the whole org starts every this many days; null: only by hand." }),
  ),
});

/**
 * A limit in whole units, or null for the installation default. Written as one `type: ["integer", "null"]`
 * rather than a union: with the app's type coercion, a union would quietly turn 0 or false into null (the
 * default) instead of refusing it.
 */
const LimitOrDefault = (range: { minimum: number; maximum: number; description: string }) => {
  const schema = { type: ["integer", "null"], ...range } as const;
  // Plain JSON Schema: the type provider infers `number | null` from the literal `type` list.
  return schema as TSchema & typeof schema;
};

const SecurityPatch = Type.Object(
  {
    requireMfa: Type.Optional(Type.Boolean()),
    allowedFactors: Type.Optional(Type.Array(Factor, { minItems: 1, maxItems: 4 })),
    sessionIdleMinutes: Type.Optional(
      LimitOrDefault({
        minimum: 5,
        maximum: 30 * 24 * 60,
        description: "5 minutes to 30 days; null: the installation default.",
      }),
    ),
    sessionMaxHours: Type.Optional(
      LimitOrDefault({
        minimum: 1,
        maximum: 365 * 24,
        description: "1 hour to 365 days; null: the installation default.",
      }),
    ),
    suspendedMemberApiKeys: Type.Optional(SuspendedKeys),
    allowedEmailDomains: Type.Optional(Type.Array(Domain, { maxItems: 50 })),
    invitationLifetimeHours: Type.Optional(Type.Integer({ minimum: 1, maximum: 30 * 24 })),
    accessReviewEveryDays: Type.Optional(
      LimitOrDefault({
        minimum: 7,
        maximum: 366,
        description: "7 to 366 days (90 for quarterly); null: campaigns start only by hand.",
      }),
    ),
  },
  { additionalProperties: false, minProperties: 1 },
);

export async function securityRoutes(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/v1/orgs/:orgId/security",
    {
      config: { org: true },
      schema: {
        tags: ["security"],
        operationId: "getOrgSecurity",
        summary: "Get the org's security settings",
        description:
          "Org-wide MFA, allowed factors, session limits, what deactivated members' API keys do, allowed email domains and the invitation lifetime. Needs `security:read`.",
        params: OrgParams,
        response: { 200: Security, ...errors(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const ctx = orgContext(req);
      return readSecurity(ctx);
    },
  );

  r.patch(
    "/v1/orgs/:orgId/security",
    {
      config: { org: true },
      schema: {
        tags: ["security"],
        operationId: "updateOrgSecurity",
        summary: "Change the org's security settings",
        description:
          "Send only the fields to change. Needs `security:update` and a signed-in user (not an API key). Turning on `requireMfa` needs the caller to have a factor. Session limits can only make sessions end sooner than the installation's own limits. Audited as `security.updated` with the before/after of each changed field.",
        params: OrgParams,
        body: SecurityPatch,
        response: { 200: Security, ...errors(400, 401, 403, 404, 422) },
      },
    },
    async (req) => {
      const ctx = orgContext(req);
      requireSession(req);
      return updateSecurity(deps, ctx, req.body, requestMeta(req));
    },
  );
}
