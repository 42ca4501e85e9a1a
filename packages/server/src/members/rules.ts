import type { Decision, Policy } from "@roster/policy";
import { AppError, invalid } from "../http/errors.ts";

/**
 * Turns a policy refusal into the contract's error. The policy decides; this only picks the status:
 * the last-top-role guard is a conflict with the org's state, an unknown role or department is a bad value,
 * everything else is 403 with the permission that was missing.
 */
export function assertAllowed(d: Decision): void {
  if (d.allowed) return;
  switch (d.code) {
    case "last_top_role":
      throw new AppError("last_top_role", d.reason);
    case "unknown_role":
      throw new AppError("unknown_role", d.reason, { param: "role" });
    case "unknown_department":
      throw invalid("department", d.reason);
    default:
      throw new AppError("permission_denied", d.reason, { requiredPermission: d.requiredPermission });
  }
}

/**
 * For free-text inputs stored or searched in PostgreSQL: text columns cannot hold NUL, and no name, filter or
 * address needs control characters. Answers 400 instead of a database error.
 */
export const NO_CONTROL_CHARS = "^[^\\u0000-\\u001f\\u007f]*$";

export function assertKnownRole(policy: Policy, role: string): void {
  if (!policy.roles.some((r) => r.name === role)) {
    throw new AppError(
      "unknown_role",
      `"${role}" is not a role of the ${policy.title} policy. Roles: ${policy.roles.map((r) => r.name).join(", ")}.`,
      { param: "role" },
    );
  }
}

export function roleTitle(policy: Policy, role: string): string {
  return policy.roles.find((r) => r.name === role)?.title ?? role;
}

export function assertDepartment(policy: Policy, department: string | null | undefined): void {
  if (department == null) return;
  const dim = policy.dimensions.department;
  if (!dim) throw invalid("department", `The ${policy.title} policy has no departments; leave \`department\` empty.`);
  if (!(department in dim.values)) {
    throw invalid(
      "department",
      `"${department}" is not a department of this organization. Departments: ${Object.keys(dim.values).join(", ")}.`,
    );
  }
}

const STORE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/** Stores are the host app's ids (Roster keeps no store list); the policy must have the store dimension. */
export function assertStores(policy: Policy, storeIds: readonly string[] | undefined): void {
  if (storeIds === undefined || storeIds.length === 0) return;
  if (!policy.dimensions.store)
    throw invalid("storeIds", `The ${policy.title} policy has no stores; leave \`storeIds\` empty.`);
  const bad = storeIds.find((s) => !STORE_ID.test(s));
  if (bad !== undefined)
    throw invalid("storeIds", `"${bad}" is not a valid store id (letters, digits, _ . : -; at most 64 characters).`);
  if (new Set(storeIds).size !== storeIds.length) throw invalid("storeIds", "`storeIds` lists a store twice.");
}

export function assertModules(policy: Policy, modules: readonly string[] | undefined): void {
  if (modules === undefined || modules.length === 0) return;
  const known = Object.keys(policy.modules);
  const bad = modules.find((m) => !known.includes(m));
  if (bad !== undefined) {
    throw invalid(
      "hiddenModules",
      known.length === 0
        ? `The ${policy.title} policy has no modules; leave \`hiddenModules\` empty.`
        : `"${bad}" is not a module. Modules: ${known.join(", ")}.`,
    );
  }
  if (new Set(modules).size !== modules.length) throw invalid("hiddenModules", "`hiddenModules` lists a module twice.");
}

export const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join("\u0000") === [...b].sort().join("\u0000");
