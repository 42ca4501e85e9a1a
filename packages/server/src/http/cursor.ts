import { AppError } from "./errors.ts";

/**
 * The one cursor format of every keyset-paged list (members, invitations, audit events): base64url of a JSON
 * array holding the last row's sort key, e.g. `[sortValue, id]`. Opaque to clients (`cursor` in,
 * `nextCursor` out, null on the last page); each list declares the parts it expects, and anything else is
 * 400 `validation_failed` naming `cursor`.
 */
export type CursorPart = "string" | "string?" | "int";
type PartValue<P extends CursorPart> = P extends "int" ? number : P extends "string?" ? string | null : string;
export type CursorValues<Parts extends readonly CursorPart[]> = { [K in keyof Parts]: PartValue<Parts[K]> };

export function encodeCursor(values: ReadonlyArray<string | number | null>): string {
  return Buffer.from(JSON.stringify(values)).toString("base64url");
}

const fits = (part: CursorPart, v: unknown): boolean =>
  part === "int"
    ? typeof v === "number" && Number.isSafeInteger(v) && v >= 0
    : typeof v === "string" || (part === "string?" && v === null);

export function decodeCursor<const Parts extends readonly CursorPart[]>(
  cursor: string,
  parts: Parts,
): CursorValues<Parts> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  if (Array.isArray(parsed) && parsed.length === parts.length && parts.every((p, i) => fits(p, parsed[i]))) {
    return parsed as CursorValues<Parts>;
  }
  throw new AppError("validation_failed", "`cursor` is not a cursor this endpoint issued.", { param: "cursor" });
}
