import { hash, verify } from "@node-rs/argon2";

// @node-rs/argon2 exports Algorithm as a const enum, which isolated modules cannot read; 2 is Argon2id.
const ARGON2ID = 2;
import { dictionary } from "@zxcvbn-ts/language-common";
import { AppError } from "../http/errors.ts";
import type { Config } from "../config.ts";

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 128;

let common: Set<string> | undefined;
function commonPasswords(): Set<string> {
  // ~49k passwords from leaked-password corpora, maintained with zxcvbn-ts.
  common ??= new Set(dictionary["passwords-common"].map((p) => p.toLowerCase()));
  return common;
}

/** NIST 800-63B style: length and a breached/common list, no composition rules. */
export function checkPasswordPolicy(password: string, param = "password"): void {
  const length = [...password].length;
  if (length < PASSWORD_MIN)
    throw new AppError("password_too_short", `Passwords need at least ${PASSWORD_MIN} characters.`, { param });
  if (length > PASSWORD_MAX)
    throw new AppError("password_too_long", `Passwords may have at most ${PASSWORD_MAX} characters.`, { param });
  if (commonPasswords().has(password.toLowerCase())) {
    throw new AppError("password_too_common", "This password is too common. Choose one that is harder to guess.", {
      param,
    });
  }
}

export function hashPassword(password: string, cost: Config["argon2"]): Promise<string> {
  return hash(password, {
    algorithm: ARGON2ID,
    memoryCost: cost.memoryCost,
    timeCost: cost.timeCost,
    parallelism: cost.parallelism,
  });
}

export async function verifyPassword(
  stored: string | null,
  password: string,
  cost: Config["argon2"],
): Promise<boolean> {
  if (!stored) {
    // Spend the same time as a real check so unknown accounts cannot be told apart by timing.
    await hashPassword(password, cost);
    return false;
  }
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}
