import { AUDIT_ACTIONS } from "../audit/record.ts";
import { chainHash, GENESIS_HASH, type ChainedEvent } from "../audit/chain.ts";

type Example = {
  entityType: string;
  target: string | null;
  before: object | null;
  after: object | null;
  about: string;
};

/** What each event means and what its before/after carry; an action without an entry gets a generic line. */
const EXAMPLES: Partial<Record<string, Example>> = {
  "team.invited": {
    entityType: "team",
    target: "inv_…",
    before: null,
    after: { email: "ana@example.com", role: "member" },
    about: "An invitation was sent.",
  },
  "team.invite_resent": {
    entityType: "team",
    target: "inv_…",
    before: null,
    after: { expiresAt: "2026-11-25T10:15:00.000Z" },
    about: "An invitation got a new link and expiry.",
  },
  "team.invite_accepted": {
    entityType: "team",
    target: "mem_…",
    before: null,
    after: { role: "member" },
    about: "Someone joined through an invitation.",
  },
  "team.invite_revoked": {
    entityType: "team",
    target: "inv_…",
    before: { status: "pending" },
    after: { status: "revoked" },
    about: "An invitation was revoked.",
  },
  "team.role_changed": {
    entityType: "team",
    target: "mem_…",
    before: { role: "member" },
    after: { role: "admin" },
    about: "A member's role changed (applies on their next request).",
  },
  "team.deactivated": {
    entityType: "team",
    target: "mem_…",
    before: { status: "active" },
    after: { status: "inactive" },
    about: "A member was deactivated: sessions ended; drop their access in your app.",
  },
  "team.reactivated": {
    entityType: "team",
    target: "mem_…",
    before: { status: "inactive" },
    after: { status: "active" },
    about: "A member was reactivated.",
  },
  "team.removed": {
    entityType: "team",
    target: "mem_…",
    before: { status: "active" },
    after: { status: "removed" },
    about: "A member was removed (restorable for 30 days): de-provision the seat.",
  },
  "team.restored": {
    entityType: "team",
    target: "mem_…",
    before: { status: "removed" },
    after: { status: "active" },
    about: "A removed member was restored.",
  },
  "team.store_access_changed": {
    entityType: "team",
    target: "mem_…",
    before: { storeIds: ["s1"] },
    after: { storeIds: ["s1", "s2"] },
    about: "A member's stores changed.",
  },
  "team.module_visibility_changed": {
    entityType: "team",
    target: "mem_…",
    before: { hiddenModules: [] },
    after: { hiddenModules: ["payments"] },
    about: "A member's hidden modules changed.",
  },
  "team.department_changed": {
    entityType: "team",
    target: "mem_…",
    before: { department: "sales" },
    after: { department: "finance" },
    about: "A member's department changed.",
  },
  "team.password_reset_requested": {
    entityType: "team",
    target: "mem_…",
    before: null,
    after: null,
    about: "An admin sent a member a password reset link.",
  },
  "team.name_changed": {
    entityType: "team",
    target: "mem_…",
    before: { name: "Ana" },
    after: { name: "Ana Lima" },
    about: "A member's name changed.",
  },
  "team.sessions_revoked": {
    entityType: "team",
    target: "mem_…",
    before: null,
    after: { revoked: 2 },
    about: "A member's sessions were ended.",
  },
  "team.purged": {
    entityType: "team",
    target: "mem_…",
    before: { status: "removed" },
    after: null,
    about: "A removed member's record was purged after 30 days.",
  },
  "auth.sign_in_succeeded": {
    entityType: "auth",
    target: "usr_…",
    before: null,
    after: null,
    about: "A member signed in.",
  },
  "auth.sign_in_failed": {
    entityType: "auth",
    target: "usr_…",
    before: null,
    after: { reason: "invalid_credentials" },
    about: "A sign-in failed.",
  },
  "auth.signed_out": { entityType: "auth", target: "usr_…", before: null, after: null, about: "A member signed out." },
  "auth.mfa_enrolled": {
    entityType: "auth",
    target: "usr_…",
    before: null,
    after: { factor: "totp" },
    about: "A member enrolled a second factor.",
  },
  "auth.mfa_removed": {
    entityType: "auth",
    target: "usr_…",
    before: { factor: "totp" },
    after: null,
    about: "A second factor was removed.",
  },
  "api_key.created": {
    entityType: "api_key",
    target: "key_…",
    before: null,
    after: { name: "CI", prefix: "ab12cd34" },
    about: "An API key was minted (never its secret).",
  },
  "api_key.rotated": {
    entityType: "api_key",
    target: "key_…",
    before: null,
    after: { prefix: "ef56gh78" },
    about: "An API key got a new secret.",
  },
  "api_key.revoked": {
    entityType: "api_key",
    target: "key_…",
    before: null,
    after: { reason: "revoked" },
    about: "An API key was revoked.",
  },
  "security.updated": {
    entityType: "security",
    target: "org_…",
    before: { requireMfa: false },
    after: { requireMfa: true },
    about: "The org's security settings changed.",
  },
  "organization.created": {
    entityType: "organization",
    target: "org_…",
    before: null,
    after: { name: "Acme", policy: "saas" },
    about: "The org was created.",
  },
  "organization.updated": {
    entityType: "organization",
    target: "org_…",
    before: { name: "Acme" },
    after: { name: "Acme Inc." },
    about: "The org's name or settings changed.",
  },
  "webhook.created": {
    entityType: "webhook",
    target: "whk_…",
    before: null,
    after: { url: "https://example.com/hooks", events: ["team.*"], enabled: true, description: null },
    about: "A webhook endpoint was created (never its secret).",
  },
  "webhook.updated": {
    entityType: "webhook",
    target: "whk_…",
    before: { enabled: true },
    after: { enabled: false },
    about: "A webhook endpoint was changed.",
  },
  "webhook.deleted": {
    entityType: "webhook",
    target: "whk_…",
    before: { url: "https://example.com/hooks" },
    after: null,
    about: "A webhook endpoint was deleted.",
  },
  "webhook.secret_rotated": {
    entityType: "webhook",
    target: "whk_…",
    before: null,
    after: { previousSecretExpiresAt: "2026-11-23T10:15:00.000Z" },
    about: "A webhook secret was rotated; the old one signs alongside for 24 h.",
  },
};

const PREFIX_ENTITY: Record<string, string> = {
  team: "team",
  auth: "auth",
  api_key: "api_key",
  security: "security",
  organization: "organization",
  webhook: "webhook",
};

function exampleOf(action: string): Example {
  const known = EXAMPLES[action];
  if (known) return known;
  const prefix = action.split(".")[0] ?? action;
  return { entityType: PREFIX_ENTITY[prefix] ?? prefix, target: null, before: null, after: null, about: "" };
}

/** The delivery body of an example event, with a real hash over the example's canonical form. */
function examplePayload(action: string, seq: number): string {
  const e = exampleOf(action);
  const event: ChainedEvent = {
    orgId: "org_01jexample",
    seq,
    id: "evt_01jexample",
    action,
    actorId: "usr_01jadmin",
    targetId: e.target,
    entityType: e.entityType,
    before: e.before as Record<string, unknown> | null,
    after: e.after as Record<string, unknown> | null,
    ip: "203.0.113.7",
    userAgent: "Mozilla/5.0",
    createdAt: "2026-11-22T10:15:00.000Z",
  };
  const prevHash = seq === 1 ? GENESIS_HASH : "9f2c…(the hash of seq - 1)";
  const data = { ...event, prevHash, hash: seq === 1 ? chainHash(GENESIS_HASH, event) : "…" };
  return JSON.stringify({ id: event.id, type: action, orgId: event.orgId, createdAt: event.createdAt, data }, null, 2);
}

/** docs/webhook-events.md: every event Roster sends, generated from the audit action list. */
export function renderEventCatalogue(): string {
  const lines = [
    "# Webhook and stream events",
    "",
    "<!-- Generated by `npm run docs:events` from packages/server/src/audit/record.ts; do not edit by hand. -->",
    "",
    "Every audit action below is sent to the webhook endpoints that subscribe to it (by name, by prefix such as",
    "`team.*`, or `*`) and on the live stream (`GET /v1/orgs/{orgId}/events/stream`). The body is",
    "`{ id, type, orgId, createdAt, data }`: `type` is the action and `data` the audit event as",
    "`GET /v1/orgs/{orgId}/audit-events` shows it, with `seq`, `prevHash` and `hash` ([webhooks.md](webhooks.md)",
    "shows how to verify the signature and the chain). `webhook.test` is sent only by the test button",
    "and carries `data: { endpointId, message, requestedBy }`. The `before`/`after` objects below show typical",
    "fields; the audit log of your org shows the exact ones.",
    "",
    "| Event | When |",
    "|---|---|",
    ...AUDIT_ACTIONS.map((a) => `| \`${a}\` | ${exampleOf(a).about || "See the audit log guide."} |`),
    "",
  ];
  AUDIT_ACTIONS.forEach((a, i) => {
    lines.push(`## \`${a}\``, "", "```json", examplePayload(a, i === 0 ? 1 : 42), "```", "");
  });
  return lines.join("\n");
}
