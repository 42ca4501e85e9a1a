/** `password_reset` → `Password reset`: policy keys (roles, departments, modules, actions) and mail kinds as labels. */
export function titleCase(s: string): string {
  return s.replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase());
}
