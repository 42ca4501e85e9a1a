import { definePolicy } from "../define.ts";

const STORE_RECORDS = ["order", "client", "vendor"] as const;

/** Seed 004: an operations workspace with a four-role ladder, per-store access and per-module hiding. */
export const operations = definePolicy({
  name: "operations",
  title: "Operations",
  description:
    "Owner, admin, staff and read-only; staff and read-only members see only the stores granted to them, and any member can have modules hidden.",
  resources: {
    order: ["read", "create", "update", "delete"],
    client: ["read", "create", "update", "delete"],
    vendor: ["read", "create", "update", "delete"],
    payment: ["record", "refund"],
    message: ["send"],
    integration_key: ["create", "rotate", "revoke"],
    webhook: ["update"],
    billing: ["update"],
    store: ["create", "archive"],
    workspace: ["delete"],
  },
  modules: {
    orders: ["order"],
    clients: ["client"],
    vendors: ["vendor"],
    payments: ["payment"],
    communications: ["message"],
    reports: [],
    fulfillment: [],
  },
  dimensions: { store: { unscopedRoles: ["owner", "admin"] } },
  roles: {
    owner: {
      rank: 4,
      title: "Owner",
      description:
        "Everything admin can do, plus deleting the workspace and promoting, demoting or removing other owners. There is always at least one.",
      permissions: ["*"],
      actsOnPeers: true,
    },
    admin: {
      rank: 3,
      title: "Admin",
      description:
        "Full operational access: invite the team, mint API keys, change billing, edit settings, refund payments, export the audit log. Cannot delete the workspace.",
      permissions: [
        ...STORE_RECORDS.map((r) => `${r}:*`),
        "payment:*",
        "message:send",
        "integration_key:*",
        "webhook:update",
        "billing:update",
        "store:*",
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
      // "Change another member's role: yes (not owner)": admins manage other admins.
      actsOnPeers: true,
    },
    staff: {
      rank: 2,
      title: "Staff",
      pluralTitle: "staff",
      description:
        "Day-to-day operators: read and write orders, clients, vendors and payments in their stores; send messages. No billing, security, integration keys or audit-log export.",
      permissions: [
        ...STORE_RECORDS.flatMap((r) => [`${r}:read@store`, `${r}:create@store`, `${r}:update@store`]),
        "payment:record@store",
        "payment:refund@store",
        "message:send",
        "organization:read",
      ],
    },
    read_only: {
      rank: 1,
      title: "Read-only",
      pluralTitle: "read-only members",
      description:
        "Views everything in their granted stores; creates, edits and deletes nothing. For accountants, auditors and advisors.",
      permissions: [...STORE_RECORDS.map((r) => `${r}:read@store`), "organization:read"],
    },
  },
  settings: { invitationLifetimeHours: 168 },
  nouns: { billing: "billing", workspace: "the workspace" },
  labels: {
    "payment:record": "record payments",
    "payment:refund": "refund payments",
    "message:send": "send email and SMS to clients",
    "integration_key:create": "mint integration keys",
    "webhook:update": "edit webhook endpoints",
    "billing:update": "edit billing or change the plan",
    "store:create": "add stores",
    "store:archive": "archive stores",
    "workspace:delete": "delete the workspace",
  },
});
