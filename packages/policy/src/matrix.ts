import { cellOf, compiledOf } from "./compile.ts";
import type { CompiledRole } from "./compile.ts";
import { labelOf } from "./phrases.ts";
import type { MatrixCell, PermissionMatrix, Policy } from "./types.ts";

/** Every resource and action with what each role holds; drives the generated docs and the console table. */
export function permissionMatrix(policy: Policy): PermissionMatrix {
  const c = compiledOf(policy);
  return {
    resources: rows(policy, policy.resources, c.roleList),
    platform:
      policy.platform && c.platform
        ? { resources: rows(policy, policy.platform.resources, c.platform.roleList) }
        : null,
  };
}

function rows(
  policy: Policy,
  resources: Readonly<Record<string, readonly string[]>>,
  roles: readonly CompiledRole[],
): PermissionMatrix["resources"] {
  return Object.entries(resources).map(([resource, actions]) => ({
    resource,
    actions: actions.map((action) => {
      const byRole: Record<string, MatrixCell> = {};
      for (const role of roles) byRole[role.name] = cellOf(role.grants.get(resource)?.get(action)?.scope ?? -1);
      return { action, label: labelOf(policy, resource, action), byRole };
    }),
  }));
}
