import type { Permission, Scope } from "./types.ts";

export interface ParsedPermission {
  /** `*` for every resource */
  resource: string;
  /** `*` for every action of the resource */
  action: string;
  scope: Scope;
}

const SCOPES: ReadonlySet<string> = new Set(["own", "store", "department"]);
export const IDENTIFIER = /^[a-z][a-z0-9_]*$/;

/** Returns the parsed grant, or a message saying what is wrong with it. */
export function parsePermission(permission: Permission): ParsedPermission | string {
  const at = permission.indexOf("@");
  const body = at === -1 ? permission : permission.slice(0, at);
  const scopeText = at === -1 ? undefined : permission.slice(at + 1);
  let scope: Scope = "all";
  if (scopeText !== undefined) {
    if (!SCOPES.has(scopeText)) return `unknown scope "@${scopeText}" (expected @own, @store or @department)`;
    scope = scopeText as Scope;
  }
  if (body === "*") return { resource: "*", action: "*", scope };
  const colon = body.indexOf(":");
  if (colon === -1) return `expected "resource:action", "resource:*" or "*"`;
  const resource = body.slice(0, colon);
  const action = body.slice(colon + 1);
  if (!IDENTIFIER.test(resource)) return `"${resource}" is not a valid resource name`;
  if (action !== "*" && !IDENTIFIER.test(action)) return `"${action}" is not a valid action name`;
  return { resource, action, scope };
}

/** Every concrete "resource:action" pair a grant covers, given the known resources. */
export function expandPermission(
  parsed: ParsedPermission,
  resources: Readonly<Record<string, readonly string[]>>,
): Array<[resource: string, action: string]> {
  const out: Array<[string, string]> = [];
  const names = parsed.resource === "*" ? Object.keys(resources) : [parsed.resource];
  for (const resource of names) {
    const actions = resources[resource] ?? [];
    if (parsed.action === "*") for (const action of actions) out.push([resource, action]);
    else if (actions.includes(parsed.action)) out.push([resource, parsed.action]);
  }
  return out;
}
