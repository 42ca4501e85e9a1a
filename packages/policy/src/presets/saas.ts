import { definePolicy } from "../define.ts";

/** Seed 001: classic SaaS user management. Admins run the team; members only look. */
export const saas = definePolicy({
  name: "saas",
  title: "SaaS",
  description:
    "Owner, admin and member: admins manage the team (invitations, password resets, deactivation, role changes, removal, audit trail); members have read-only basics.",
  resources: {},
  roles: {
    owner: {
      rank: 3,
      title: "Owner",
      description:
        "Everything, including deleting members for good, deleting the organization and granting or removing ownership.",
      permissions: ["*"],
      actsOnPeers: true,
    },
    admin: {
      rank: 2,
      title: "Admin",
      description:
        "Full team management: invite, resend and revoke invitations, reset passwords, deactivate and reactivate, change roles, remove members, read the audit trail.",
      permissions: [
        "member:read",
        "member:invite",
        "member:update",
        "member:change_role",
        "member:deactivate",
        "member:remove",
        "member:restore",
        "member:export",
        "member:reset_password",
        "invitation:*",
        "api_key:*",
        "audit_log:*",
        "security:*",
        "organization:read",
        "organization:update",
        "report:read",
        "session:*",
        "role:manage",
        "webhook:manage",
        "access_review:manage",
        "authorize:any_member",
        "access_review:decide",
      ],
      // Seed 001 has admins turning members into admins ("member → admin"), so they act on their own rank.
      actsOnPeers: true,
    },
    member: {
      rank: 1,
      title: "Member",
      description: "Read-only basics: sees the organization and its members.",
      permissions: ["member:read", "organization:read"],
    },
  },
});
