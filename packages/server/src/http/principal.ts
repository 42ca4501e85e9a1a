import type { Policy, Subject } from "@roster/policy";
import type { MemberRow, OrgRow, UserRow } from "../db/schema.ts";

/** Who is calling: a signed-in user, or an API key acting as its member in its one org. */
export type Principal = SessionPrincipal | ApiKeyPrincipal;

export interface SessionPrincipal {
  kind: "session";
  user: Pick<UserRow, "id" | "email" | "name" | "platformRole">;
  sessionId: string;
  via: "cookie" | "bearer";
  /** For per-org session limits (security settings). */
  sessionCreatedAt: Date;
  idleSince: Date;
  /** A second factor was verified for this session. */
  mfaVerified: boolean;
}

export interface ApiKeyPrincipal {
  kind: "api_key";
  /** The key's member's user; a key never carries a platform role. */
  user: Pick<UserRow, "id" | "email" | "name" | "platformRole">;
  keyId: string;
  orgId: string;
  via: "bearer";
  /** The org and member as read for this request: the member's current role applies. */
  org: OrgRow;
  member: MemberRow;
  permissions: string[] | null;
}

export interface OrgContext {
  org: OrgRow;
  policy: Policy;
  member: MemberRow;
  subject: Subject;
}
