// Reasons are read by people (403 bodies, console tooltips), so they are sentences built from the
// policy's own titles rather than codes. They are built once per role and permission at compile time.
import { BUILTIN_LABELS, BUILTIN_NOUNS } from "./builtins.ts";
import type { Policy } from "./types.ts";

export function pluralize(phrase: string): string {
  if (/(s|x|z|ch|sh)$/.test(phrase)) return `${phrase}es`;
  if (/[^aeiou]y$/.test(phrase)) return `${phrase.slice(0, -1)}ies`;
  return `${phrase}s`;
}

export function humanize(name: string): string {
  return name.replace(/_/g, " ");
}

export function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** "owners", "owners and admins", "owners, admins and staff" */
export function listOf(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? "";
  return `${items.slice(0, -1).join(", ")} and ${items[items.length - 1]!}`;
}

export function verbOf(action: string): string {
  return action === "read" ? "view" : humanize(action);
}

export function nounOf(policy: Policy, resource: string): string {
  return policy.nouns[resource] ?? BUILTIN_NOUNS[resource] ?? pluralize(humanize(resource));
}

/** The verb phrase for a permission: "void invoices", "configure pipeline stages". */
export function labelOf(policy: Policy, resource: string, action: string): string {
  const key = `${resource}:${action}`;
  const own = policy.labels[key];
  if (own !== undefined) return own;
  const builtin = BUILTIN_LABELS[key];
  if (builtin !== undefined) {
    const top = policy.roles[0];
    return builtin
      .replace("{tops}", top?.pluralTitle ?? "owners")
      .replace("{top}", top?.title.toLowerCase() ?? "owner");
  }
  if (action === "use") return `use ${humanize(resource)}`;
  return `${verbOf(action)} ${nounOf(policy, resource)}`;
}

export function moduleTitle(module: string): string {
  return capitalize(humanize(module));
}
