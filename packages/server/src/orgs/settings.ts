import type { Policy } from "@roster/policy";
import type { OrgRow } from "../db/schema.ts";

/** Per-org security settings, stored in organizations.settings; defaults come from the org's policy. */
export interface OrgSettings {
  requireMfa: boolean;
  allowedFactors: Array<"totp">;
  sessionIdleMinutes: number | null;
  sessionMaxHours: number | null;
  /** What a deactivated member's API keys do: keep working (integrations must not break) or pause. */
  suspendedMemberApiKeys: "active" | "paused";
  allowedEmailDomains: string[];
  invitationLifetimeHours: number;
  /** Start an access review of the whole org every this many days (the job); null: only by hand. */
  accessReviewEveryDays: number | null;
}

export function defaultSettings(policy: Policy): OrgSettings {
  return {
    requireMfa: false,
    allowedFactors: ["totp"],
    sessionIdleMinutes: null,
    sessionMaxHours: null,
    suspendedMemberApiKeys: "active",
    allowedEmailDomains: [],
    invitationLifetimeHours: policy.settings.invitationLifetimeHours,
    accessReviewEveryDays: null,
  };
}

/** The org's effective settings: stored values over the policy's defaults. */
export function orgSettings(org: Pick<OrgRow, "settings">, policy: Policy): OrgSettings {
  return { ...defaultSettings(policy), ...(org.settings as Partial<OrgSettings>) };
}
