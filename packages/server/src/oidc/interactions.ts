import { and, eq } from "drizzle-orm";
import type Provider from "oidc-provider";
import type { AppDeps } from "../deps.ts";
import { members, organizations } from "../db/schema.ts";
import { AppError, invalid, notFound } from "../http/errors.ts";
import type { Principal } from "../http/principal.ts";
import { orgTokenClaims } from "./org-claims.ts";
import { ORG_RESOURCE, orgOfResource, TTL } from "./provider.ts";
import { oidcGrantLinks } from "./tables.ts";
import { roleTitle } from "../roles/effective.ts";

type Interaction = InstanceType<Provider["Interaction"]>;

async function findInteraction(provider: Provider, uid: string): Promise<Interaction> {
  const interaction = await provider.Interaction.find(uid);
  if (!interaction) throw notFound("Sign-in request");
  return interaction;
}

/**
 * First-party applications skip the consent step. The provider keeps extra client metadata under its own
 * (snake_case) name: `roster_first_party`, set from the application's row by the adapter.
 */
function isFirstParty(client: InstanceType<Provider["Client"]>): boolean {
  return (client as unknown as { roster_first_party?: boolean }).roster_first_party !== false;
}

const scopeOf = (interaction: Interaction): string => {
  const s = interaction.params.scope;
  return typeof s === "string" ? s : "openid";
};

const resourcesOf = (interaction: Interaction): string[] => {
  const r = interaction.params.resource;
  return Array.isArray(r) ? r.map(String) : typeof r === "string" ? [r] : [];
};

/** null: no organization asked for; "": the person picks one; otherwise the org the application named. */
function requestedOrg(interaction: Interaction): string | null {
  for (const r of resourcesOf(interaction)) {
    const org = orgOfResource(r);
    if (org !== null) return org;
  }
  return null;
}

export async function describeInteraction(deps: AppDeps, provider: Provider, uid: string, principal: Principal | null) {
  const interaction = await findInteraction(provider, uid);
  const clientId = String(interaction.params.client_id);
  const client = await provider.Client.find(clientId);
  if (!client) throw notFound("Sign-in request");
  const requested = requestedOrg(interaction);
  const user = principal?.kind === "session" ? principal.user : null;
  const rows = user
    ? await deps.db.tx({ userId: user.id }, (tx) =>
        tx
          .select({ id: organizations.id, name: organizations.name, policy: organizations.policy, role: members.role })
          .from(members)
          .innerJoin(organizations, eq(organizations.id, members.orgId))
          .where(and(eq(members.userId, user.id), eq(members.status, "active")))
          .orderBy(organizations.name),
      )
    : [];
  const orgs = [];
  for (const o of rows) {
    orgs.push({ id: o.id, name: o.name, role: o.role, roleTitle: await roleTitle(deps, o, o.role) });
  }
  return {
    uid,
    application: {
      clientId,
      name: client.clientName ?? clientId,
      firstParty: isFirstParty(client),
    },
    scopes: scopeOf(interaction).split(" ").filter(Boolean),
    organization: { requested: requested !== null, orgId: requested || null },
    user: user ? { id: user.id, email: user.email, name: user.name } : null,
    organizations: orgs,
  };
}

/**
 * Completes the provider's interaction as the signed-in Roster session: login (with `otp` in `amr` when the
 * session showed a second factor) and consent in one step. The grant is linked to the Roster session and the
 * organization, so ending either ends it (migration 0011's triggers).
 */
export async function completeInteraction(
  deps: AppDeps,
  provider: Provider,
  uid: string,
  principal: Principal,
  body: { orgId?: string | undefined; consent?: boolean | undefined },
): Promise<{ redirectTo: string }> {
  if (principal.kind !== "session")
    throw new AppError("api_key_not_allowed", "Sign in to continue to the application.");
  const interaction = await findInteraction(provider, uid);
  const clientId = String(interaction.params.client_id);
  const client = await provider.Client.find(clientId);
  if (!client) throw notFound("Sign-in request");
  const firstParty = isFirstParty(client);
  if (!firstParty && body.consent !== true) {
    throw invalid("consent", "Approve the access this application asks for, or decline it.");
  }
  const amr = principal.mfaVerified ? ["pwd", "otp"] : ["pwd"];
  const orgId = await chooseOrg(deps, interaction, principal.user.id, amr, body.orgId);

  const accountId = principal.user.id;
  const existing = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
  const grant = existing && existing.accountId === accountId ? existing : new provider.Grant({ accountId, clientId });
  const scope = scopeOf(interaction);
  grant.addOIDCScope(scope);
  for (const resource of resourcesOf(interaction)) grant.addResourceScope(resource, scope);
  const grantId = await grant.save();

  const now = deps.clock.now();
  const link = {
    grantId,
    accountId,
    clientId,
    orgId,
    rosterSessionId: principal.sessionId,
    createdAt: now,
    expiresAt: new Date(now.getTime() + TTL.Grant * 1000),
  };
  await deps.db.tx({}, (tx) =>
    tx
      .insert(oidcGrantLinks)
      .values(link)
      .onConflictDoUpdate({
        target: oidcGrantLinks.grantId,
        set: { orgId, rosterSessionId: principal.sessionId, expiresAt: link.expiresAt },
      }),
  );

  interaction.result = {
    login: { accountId, amr, ts: Math.floor(principal.sessionCreatedAt.getTime() / 1000), remember: true },
    consent: { grantId },
  };
  await interaction.save(Math.max(1, interaction.exp - Math.floor(Date.now() / 1000)));
  return { redirectTo: interaction.returnTo };
}

async function chooseOrg(
  deps: AppDeps,
  interaction: Interaction,
  userId: string,
  amr: string[],
  picked: string | undefined,
): Promise<string | null> {
  const requested = requestedOrg(interaction);
  if (requested === null) return null;
  if (requested && picked && picked !== requested) {
    throw invalid("orgId", "The application asked for another organization.");
  }
  const orgId = requested || picked;
  if (!orgId) throw invalid("orgId", "Pick the organization to continue with.");
  const claims = await orgTokenClaims(deps, userId, orgId, amr);
  if (claims === "not_member") throw notFound("Organization");
  if (claims === "inactive") {
    throw new AppError(
      "member_inactive",
      "Your access to this organization is suspended. Ask an administrator to reactivate it.",
    );
  }
  if (claims === "mfa_required") {
    throw new AppError(
      "mfa_required",
      "This organization requires two-step verification. Sign in again with your authenticator app.",
    );
  }
  return orgId;
}

export async function abortInteraction(provider: Provider, uid: string): Promise<{ redirectTo: string }> {
  const interaction = await findInteraction(provider, uid);
  interaction.result = { error: "access_denied", error_description: "The person declined to sign in." };
  await interaction.save(Math.max(1, interaction.exp - Math.floor(Date.now() / 1000)));
  return { redirectTo: interaction.returnTo };
}

export { ORG_RESOURCE };
