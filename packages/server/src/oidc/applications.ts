import { randomBytes } from "node:crypto";
import { asc, eq, gt } from "drizzle-orm";
import { canPlatform, presets } from "@roster/policy";
import type { AppDeps } from "../deps.ts";
import { AppError, invalid, notFound } from "../http/errors.ts";
import { newId } from "../lib/ids.ts";
import { seal } from "../lib/crypto.ts";
import { oidcApplications, type ApplicationRow, type ApplicationType } from "./tables.ts";

export interface ApplicationInput {
  name: string;
  type: ApplicationType;
  redirectUris?: string[] | undefined;
  postLogoutRedirectUris?: string[] | undefined;
  backchannelLogoutUri?: string | null | undefined;
  firstParty?: boolean | undefined;
}

/**
 * Who manages applications: platform staff whose role holds `platform_settings:manage` (the crm preset's
 * platform roles: developer_admin), granted with `roster grant-platform-role`; and anyone with shell access
 * to the server, through `roster create-application` (docs/decisions/0013-openid-provider.md).
 */
export function assertOperator(platformRole: string | null): void {
  const d = platformRole ? canPlatform(presets.crm, platformRole, "manage", "platform_settings") : null;
  if (!d?.allowed) {
    throw new AppError("permission_denied", "Only the installation's operators manage applications.", {
      requiredPermission: "platform_settings:manage",
    });
  }
}

export const secretAad = (clientId: string) => `oidc-client:${clientId}`;
const newSecret = () => `rcs_${randomBytes(32).toString("base64url")}`;
const hasSecret = (type: ApplicationType) => type === "web" || type === "machine";

/** A redirect target: absolute, no fragment; https, or http only on this machine (RFC 8252 loopback). */
function checkUri(param: string, value: string, type: ApplicationType): void {
  const url = URL.parse(value);
  if (!url || url.hash) throw invalid(param, `\`${value}\` is not an absolute URL without a fragment.`);
  const loopback = ["127.0.0.1", "[::1]", "localhost"].includes(url.hostname);
  const ok =
    url.protocol === "https:" ||
    (url.protocol === "http:" && loopback) ||
    (type === "native" && !["http:", "https:", "javascript:", "data:", "file:"].includes(url.protocol));
  if (!ok) throw invalid(param, `\`${value}\` must use https (http only for 127.0.0.1 or localhost).`);
}

function validate(input: ApplicationInput): void {
  const redirects = input.redirectUris ?? [];
  if (input.type === "machine" && redirects.length > 0) {
    throw invalid("redirectUris", "Machine applications sign no one in, so they take no redirect URIs.");
  }
  if (input.type !== "machine" && redirects.length === 0) {
    throw invalid("redirectUris", "Give at least one redirect URI for an application people sign in to.");
  }
  redirects.forEach((u, i) => checkUri(`redirectUris.${i}`, u, input.type));
  (input.postLogoutRedirectUris ?? []).forEach((u, i) => checkUri(`postLogoutRedirectUris.${i}`, u, input.type));
  if (input.backchannelLogoutUri) checkUri("backchannelLogoutUri", input.backchannelLogoutUri, "web");
}

export function shapeApplication(a: ApplicationRow) {
  return {
    id: a.id,
    clientId: a.clientId,
    name: a.name,
    type: a.type,
    firstParty: a.firstParty,
    redirectUris: a.redirectUris,
    postLogoutRedirectUris: a.postLogoutRedirectUris,
    backchannelLogoutUri: a.backchannelLogoutUri,
    createdAt: a.createdAt,
    updatedAt: a.updatedAt,
  };
}

export async function createApplication(deps: AppDeps, input: ApplicationInput, createdBy: string | null) {
  validate(input);
  const now = deps.clock.now();
  const id = newId("app");
  const clientId = `rc_${randomBytes(12).toString("base64url")}`;
  const secret = hasSecret(input.type) ? newSecret() : null;
  const [row] = await deps.db.tx({ platform: true }, (tx) =>
    tx
      .insert(oidcApplications)
      .values({
        id,
        clientId,
        name: input.name,
        type: input.type,
        firstParty: input.firstParty ?? true,
        redirectUris: input.redirectUris ?? [],
        postLogoutRedirectUris: input.postLogoutRedirectUris ?? [],
        backchannelLogoutUri: input.backchannelLogoutUri ?? null,
        secretSealed: secret ? seal(deps.config.secretKey, secret, secretAad(clientId)) : null,
        createdBy,
        createdAt: now,
        updatedAt: now,
      })
      .returning(),
  );
  return { ...shapeApplication(row!), ...(secret ? { clientSecret: secret } : {}) };
}

export async function listApplications(deps: AppDeps, cursor: string | undefined, limit: number) {
  const rows = await deps.db.tx({ platform: true }, (tx) =>
    tx
      .select()
      .from(oidcApplications)
      .where(cursor ? gt(oidcApplications.id, cursor) : undefined)
      .orderBy(asc(oidcApplications.id))
      .limit(limit + 1),
  );
  const data = rows.slice(0, limit).map(shapeApplication);
  return { data, nextCursor: rows.length > limit ? (data[data.length - 1]?.id ?? null) : null };
}

async function load(deps: AppDeps, id: string): Promise<ApplicationRow> {
  const [row] = await deps.db.tx({ platform: true }, (tx) =>
    tx.select().from(oidcApplications).where(eq(oidcApplications.id, id)).limit(1),
  );
  if (!row) throw notFound("Application");
  return row;
}

export async function getApplication(deps: AppDeps, id: string) {
  return shapeApplication(await load(deps, id));
}

export async function updateApplication(deps: AppDeps, id: string, patch: Partial<Omit<ApplicationInput, "type">>) {
  const current = await load(deps, id);
  const next = {
    name: patch.name ?? current.name,
    type: current.type,
    redirectUris: patch.redirectUris ?? current.redirectUris,
    postLogoutRedirectUris: patch.postLogoutRedirectUris ?? current.postLogoutRedirectUris,
    backchannelLogoutUri:
      patch.backchannelLogoutUri === undefined ? current.backchannelLogoutUri : patch.backchannelLogoutUri,
    firstParty: patch.firstParty ?? current.firstParty,
  };
  validate(next);
  const [row] = await deps.db.tx({ platform: true }, (tx) =>
    tx
      .update(oidcApplications)
      .set({ ...next, updatedAt: deps.clock.now() })
      .where(eq(oidcApplications.id, id))
      .returning(),
  );
  return shapeApplication(row!);
}

/** Deleting an application ends its grants too: the provider finds no client for them any more. */
export async function deleteApplication(deps: AppDeps, id: string): Promise<void> {
  const deleted = await deps.db.tx({ platform: true }, (tx) =>
    tx.delete(oidcApplications).where(eq(oidcApplications.id, id)).returning({ id: oidcApplications.id }),
  );
  if (deleted.length === 0) throw notFound("Application");
}

export async function rotateApplicationSecret(deps: AppDeps, id: string) {
  const current = await load(deps, id);
  if (!hasSecret(current.type)) {
    throw new AppError("validation_failed", "Public applications (spa, native) have no secret; they use PKCE.", {
      param: "id",
    });
  }
  const secret = newSecret();
  const [row] = await deps.db.tx({ platform: true }, (tx) =>
    tx
      .update(oidcApplications)
      .set({
        secretSealed: seal(deps.config.secretKey, secret, secretAad(current.clientId)),
        updatedAt: deps.clock.now(),
      })
      .where(eq(oidcApplications.id, id))
      .returning(),
  );
  return { ...shapeApplication(row!), clientSecret: secret };
}
