import { API_PATHS } from "./paths";

/** Console areas and the endpoint each one needs; an area shows only when the server has it. */
const AREAS = {
  invitations: "/v1/orgs/{orgId}/invitations",
  security: "/v1/orgs/{orgId}/security",
  apiKeys: "/v1/orgs/{orgId}/api-keys",
  audit: "/v1/orgs/{orgId}/audit-events",
  reports: "/v1/orgs/{orgId}/reports/compliance",
  mailbox: "/v1/dev/mailbox",
  memberExport: "/v1/orgs/{orgId}/members/export",
  memberDetail: "/v1/orgs/{orgId}/members/{memberId}",
  mfa: "/v1/auth/mfa/verify",
  passwordForgot: "/v1/auth/password/forgot",
  invitationAccept: "/v1/invitations/{token}/accept",
  totp: "/v1/me/mfa/totp",
} as const;

export type Area = keyof typeof AREAS;

export function hasApi(area: Area): boolean {
  return API_PATHS.has(AREAS[area]);
}
