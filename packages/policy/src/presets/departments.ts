import { definePolicy } from "../define.ts";

const MODULE_USE = [
  "contract_builder:use@department",
  "customer_data:use@department",
  "crm_integration:use@department",
  "usage_data:use@department",
  "integration_apis:use@department",
  "invoice_builder:use@department",
  "payments_board:use@department",
  "payment_reminders:use@department",
] as const;

/**
 * Seed 003: super admin > admin > user, each member in one department (sales, finance, tech) that
 * decides which modules it uses; admins manage only their own department.
 */
export const departments = definePolicy({
  name: "departments",
  title: "Departments",
  description:
    "Super admin, admin and user; departments sales, finance and tech select the modules a member uses, admins manage only their own department, and new users inherit their creator's department.",
  resources: {
    contract_builder: ["use"],
    customer_data: ["use"],
    crm_integration: ["use"],
    usage_data: ["use"],
    integration_apis: ["use"],
    invoice_builder: ["use"],
    payments_board: ["use"],
    payment_reminders: ["use"],
    billing: ["manage"],
  },
  modules: {
    contract_builder: ["contract_builder"],
    customer_data: ["customer_data"],
    crm_integration: ["crm_integration"],
    usage_data: ["usage_data"],
    integration_apis: ["integration_apis"],
    invoice_builder: ["invoice_builder"],
    payments_board: ["payments_board"],
    payment_reminders: ["payment_reminders"],
  },
  dimensions: {
    department: {
      values: {
        sales: ["contract_builder", "customer_data", "crm_integration"],
        finance: ["invoice_builder", "payments_board", "payment_reminders"],
        tech: ["usage_data", "integration_apis"],
      },
      jurisdiction: true,
      inheritFromCreator: true,
      unscopedRoles: ["super_admin"],
    },
  },
  roles: {
    super_admin: {
      rank: 3,
      title: "Super admin",
      description:
        "The account that bought the subscription: every permission, every department, billing, and the only role that grants admin.",
      permissions: ["*"],
      actsOnPeers: true,
    },
    admin: {
      rank: 2,
      title: "Admin",
      description:
        "Builds the team of their own department: invites users, edits, removes and restores them, sees their department's activity and reports.",
      permissions: [
        ...MODULE_USE,
        "member:read@department",
        "member:invite",
        "member:update@department",
        "member:change_role@department",
        "member:deactivate@department",
        "member:remove@department",
        "member:restore@department",
        "member:export@department",
        "member:reset_password@department",
        "invitation:create",
        "invitation:read@department",
        "invitation:resend@department",
        "invitation:revoke@department",
        "session:read@department",
        "session:revoke@department",
        "audit_log:read@department",
        "report:read@department",
        "organization:read",
        "access_review:decide@department",
      ],
    },
    user: {
      rank: 1,
      title: "User",
      description: "Uses the modules of their department.",
      permissions: [...MODULE_USE, "organization:read"],
    },
  },
  settings: {
    invitationLifetimeHours: 72,
    emailRules: {
      secondaryEmailDomains: ["gmail.com", "icloud.com", "outlook.com"],
      primaryMustMatchAllowedDomains: true,
      secondaryEmailImmutable: true,
    },
  },
  nouns: { billing: "billing" },
  labels: {
    "contract_builder:use": "use the contract builder",
    "customer_data:use": "use customer data",
    "crm_integration:use": "use the CRM integration",
    "usage_data:use": "use usage data",
    "integration_apis:use": "use the integration APIs",
    "invoice_builder:use": "use the invoice builder",
    "payments_board:use": "use the payments board",
    "payment_reminders:use": "use payment reminders",
    "billing:manage": "manage billing",
  },
});
