/** The server's minimum password length (it also refuses common passwords); forms check it before sending. */
export const PASSWORD_MIN = 8;

/** Only same-site paths, so a crafted ?next= cannot send someone elsewhere after signing in. */
export function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
}
