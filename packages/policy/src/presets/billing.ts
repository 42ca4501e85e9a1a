import { definePolicy } from "../define.ts";

const ACCESS_CONTROL_FOR_ADMINS = [
  "member:read",
  "member:invite",
  "member:update",
  "member:change_role",
  "member:deactivate",
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
] as const;

/**
 * Seed 000: a billing platform's collaborators. Only the account owner deletes collaborators;
 * sales and customer service get narrow roles instead of full admin.
 */
export const billing = definePolicy({
  name: "billing",
  title: "Billing",
  description:
    "Owner, admin, and two intermediate roles (sales, customer service). Only owners delete collaborators; admins deactivate them.",
  resources: {
    customer: ["read", "update", "export", "delete"],
    plan: ["read", "create", "update", "delete"],
    subscription: ["read", "export", "delete"],
    invoice: ["read", "void", "cancel", "export", "delete"],
    product_settings: ["read", "update"],
  },
  roles: {
    owner: {
      rank: 3,
      title: "Owner",
      description: "The account owner: everything, and the only role that deletes collaborators.",
      permissions: ["*"],
      actsOnPeers: true,
    },
    admin: {
      rank: 2,
      title: "Admin",
      description: "Everything except deleting collaborators, deleting the organization and the owner rules.",
      permissions: [
        "customer:*",
        "plan:*",
        "subscription:*",
        "invoice:*",
        "product_settings:*",
        ...ACCESS_CONTROL_FOR_ADMINS,
      ],
      actsOnPeers: true,
    },
    sales: {
      rank: 1,
      title: "Sales",
      pluralTitle: "sales collaborators",
      description:
        "Creates and edits plans; exports customers, subscriptions and invoices. No access control, product settings or deletes.",
      permissions: [
        "plan:read",
        "plan:create",
        "plan:update",
        "customer:read",
        "customer:export",
        "subscription:read",
        "subscription:export",
        "invoice:read",
        "invoice:export",
        "organization:read",
      ],
    },
    customer_service: {
      rank: 1,
      title: "Customer service",
      pluralTitle: "customer service collaborators",
      description: "Updates customer information; voids and cancels invoices. No plans, access control or deletes.",
      permissions: [
        "customer:read",
        "customer:update",
        "invoice:read",
        "invoice:void",
        "invoice:cancel",
        "subscription:read",
        "organization:read",
      ],
    },
  },
  // Two roles share the lowest rank; new collaborators start with the narrower, read-mostly one.
  defaultRole: "customer_service",
  // In this product removing a collaborator is deleting it (docs/decisions/policy-billing-delete.md).
  memberActions: { remove: "member:delete" },
  nouns: { product_settings: "product settings" },
  labels: {
    "product_settings:read": "view product settings",
    "product_settings:update": "change product settings",
  },
});
