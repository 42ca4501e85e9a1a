/**
 * PostgreSQL text and jsonb cannot hold U+0000. Finds the first string that has one, anywhere in a parsed
 * body, query or path, and answers its dotted path (`members.0.name`), or null.
 */
export function findNul(value: unknown, path = "", depth = 0): string | null {
  if (typeof value === "string") return value.includes("\u0000") ? path || "body" : null;
  if (value === null || typeof value !== "object" || depth > 32) return null;
  const entries = Array.isArray(value)
    ? value.map((v, i) => [String(i), v] as const)
    : Object.entries(value as Record<string, unknown>);
  for (const [k, v] of entries) {
    if (k.includes("\u0000")) return path ? `${path}.${k.replaceAll("\u0000", "")}` : k.replaceAll("\u0000", "");
    const found = findNul(v, path ? `${path}.${k}` : k, depth + 1);
    if (found !== null) return found;
  }
  return null;
}
