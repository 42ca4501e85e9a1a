import { openingKeys } from "../config.ts";
import { randomBytes } from "node:crypto";
import { and, eq, gt, inArray, isNotNull, isNull, lt, sql } from "drizzle-orm";
import QRCode from "qrcode";
import type { AppDeps } from "../deps.ts";
import type { Database, Tx } from "../db/database.ts";
import { rowsOf } from "../db/database.ts";
import { members, sessions, users, type UserRow } from "../db/schema.ts";
import { AppError, notFound } from "../http/errors.ts";
import { newId } from "../lib/ids.ts";
import { open, seal } from "../lib/crypto.ts";
import { hashToken, hmac, newToken } from "../lib/tokens.ts";
import type { RequestMeta } from "../audit/record.ts";
import { verifyPassword } from "../auth/passwords.ts";
import { hitLimit, peekLimit } from "../auth/rate-limit.ts";
import { issueSession, revokeUserSessions, type IssuedSession } from "../auth/sessions.ts";
import { recordInUserOrgs } from "../security/user-audit.ts";
import { mfaChallenges, mfaFactors, mfaRecoveryCodes, type MfaFactorRow } from "./tables.ts";
import { matchTotp, newTotpSecret, otpauthUrl } from "./totp.ts";

export const TOTP_ISSUER = "Roster";
export const RECOVERY_CODE_COUNT = 10;
export const CHALLENGE_TTL_MS = 5 * 60_000;
export const CHALLENGE_MAX_ATTEMPTS = 5;
const CHALLENGE_PREFIX = "mc";
/** Wrong codes per user before code checks pause (enrolment, removal), on top of the per-challenge cap. */
const CODE_LIMIT = { max: 10, windowSeconds: 15 * 60 };

/** Binds a sealed seed to its factor and user: a ciphertext moved to another row does not open. */
export const sealContext = (f: Pick<MfaFactorRow, "id" | "userId">) => `mfa_factors:${f.id}:${f.userId}`;

function secretOf(deps: AppDeps, factor: MfaFactorRow): string {
  try {
    return open(openingKeys(deps.config), factor.secretSealed, sealContext(factor));
  } catch (cause) {
    // A 500 for the user; for the operator's log, the likely reason (docs/operator-guide.md, "Secrets").
    throw new Error(`TOTP factor ${factor.id} cannot be opened (was ROSTER_SECRET_KEY changed, or the row altered?)`, {
      cause,
    });
  }
}

// Crockford's base32: no I, L, O or U, so a code read aloud or typed from paper is unambiguous.
const RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";

function newRecoveryCode(): string {
  const bytes = randomBytes(10);
  let out = "";
  for (const b of bytes) out += RECOVERY_ALPHABET[b & 31];
  return `${out.slice(0, 5)}-${out.slice(5)}`;
}

const normalizeRecoveryCode = (code: string) => code.toLowerCase().replace(/[\s-]/g, "");
/** Keyed with the installation key: 50-bit codes are out of reach of an offline guess without it. */
const recoveryHashUnder = (key: Buffer, code: string) => hmac(key, `mfa-recovery:${normalizeRecoveryCode(code)}`);
const recoveryHash = (deps: AppDeps, code: string) => recoveryHashUnder(deps.config.secretKey, code);
const recoveryHashes = (deps: AppDeps, code: string) => openingKeys(deps.config).map((k) => recoveryHashUnder(k, code));

async function factorOf(tx: Tx, userId: string, lock = false): Promise<MfaFactorRow | undefined> {
  const q = tx
    .select()
    .from(mfaFactors)
    .where(and(eq(mfaFactors.userId, userId), eq(mfaFactors.kind, "totp")));
  const rows = lock ? await q.for("update") : await q;
  return rows[0];
}

/** Whether the user has a confirmed factor; the transaction must be bound to the user. */
export async function hasConfirmedFactor(tx: Tx, userId: string): Promise<boolean> {
  const rows = await tx
    .select({ id: mfaFactors.id })
    .from(mfaFactors)
    .where(and(eq(mfaFactors.userId, userId), isNotNull(mfaFactors.confirmedAt)))
    .limit(1);
  return rows.length > 0;
}

/**
 * Accepts a TOTP code at most once: the conditional UPDATE raises last_used_step only if the code's step is
 * newer, so of any number of concurrent submissions of one code exactly one finds a row to update.
 */
async function acceptTotp(deps: AppDeps, tx: Tx, factor: MfaFactorRow, code: string, now: Date): Promise<boolean> {
  const step = matchTotp(secretOf(deps, factor), code, now);
  if (step === null) return false;
  const updated = await tx
    .update(mfaFactors)
    .set({ lastUsedStep: step })
    .where(and(eq(mfaFactors.id, factor.id), lt(mfaFactors.lastUsedStep, step)))
    .returning({ id: mfaFactors.id });
  return updated.length === 1;
}

async function acceptRecoveryCode(deps: AppDeps, tx: Tx, userId: string, code: string, now: Date): Promise<boolean> {
  if (normalizeRecoveryCode(code).length !== 10) return false;
  const used = await tx
    .update(mfaRecoveryCodes)
    .set({ usedAt: now })
    // Codes issued before a key rotation were hashed under a previous key: any listed key may match.
    .where(
      and(
        eq(mfaRecoveryCodes.userId, userId),
        inArray(mfaRecoveryCodes.codeHash, recoveryHashes(deps, code)),
        isNull(mfaRecoveryCodes.usedAt),
      ),
    )
    .returning({ factorId: mfaRecoveryCodes.factorId });
  return used.length === 1;
}

export type SecondFactor = "totp" | "recovery_code";

/** A six-digit TOTP code or one of the recovery codes; null when neither is (still) valid. */
async function acceptCode(
  deps: AppDeps,
  tx: Tx,
  factor: MfaFactorRow,
  code: string,
  now: Date,
): Promise<SecondFactor | null> {
  const trimmed = code.trim();
  if (/^\d{6}$/.test(trimmed)) return (await acceptTotp(deps, tx, factor, trimmed, now)) ? "totp" : null;
  return (await acceptRecoveryCode(deps, tx, factor.userId, trimmed, now)) ? "recovery_code" : null;
}

async function throttleCodes(deps: AppDeps, userId: string): Promise<void> {
  const state = await hitLimit(deps.db, `mfa:user:${userId}`, CODE_LIMIT, deps.clock.now());
  if (!state.allowed)
    throw new AppError("rate_limited", "Too many wrong codes. Try again later.", {
      retryAfterSeconds: state.retryAfterSeconds,
    });
}

export interface TotpEnrolment {
  otpauthUrl: string;
  secret: string;
  qrCode: string;
}

/**
 * Starts (or restarts) TOTP enrolment with a new seed. The factor counts only once confirmed with a code, so
 * an abandoned enrolment changes nothing; a confirmed factor must be removed before enrolling again.
 */
export async function startTotpEnrolment(deps: AppDeps, user: Pick<UserRow, "id" | "email">): Promise<TotpEnrolment> {
  const now = deps.clock.now();
  const secret = newTotpSecret();
  await deps.db.tx({ userId: user.id }, async (tx) => {
    const existing = await factorOf(tx, user.id, true);
    if (existing?.confirmedAt) {
      throw new AppError(
        "mfa_already_enrolled",
        "An authenticator app is already set up. Remove it first to set up a new one.",
      );
    }
    const id = existing?.id ?? newId("fac");
    const secretSealed = seal(deps.config.secretKey, secret, sealContext({ id, userId: user.id }));
    if (existing) {
      await tx.update(mfaFactors).set({ secretSealed, lastUsedStep: -1, createdAt: now }).where(eq(mfaFactors.id, id));
    } else {
      await tx.insert(mfaFactors).values({
        id,
        userId: user.id,
        kind: "totp",
        secretSealed,
        confirmedAt: null,
        lastUsedStep: -1,
        createdAt: now,
      });
    }
  });
  const url = otpauthUrl(secret, user.email, TOTP_ISSUER);
  return {
    otpauthUrl: url,
    secret,
    qrCode: await QRCode.toDataURL(url, { errorCorrectionLevel: "M", margin: 2, width: 240 }),
  };
}

/**
 * Confirms enrolment with a first code; answers the recovery codes, which exist from then on only as hashes.
 * The session that confirmed has shown the factor: it counts as verified. The user's other sessions do not.
 */
export async function confirmTotp(
  deps: AppDeps,
  userId: string,
  sessionId: string,
  code: string,
  meta: RequestMeta,
): Promise<string[]> {
  const now = deps.clock.now();
  const outcome = await deps.db.tx({ userId }, async (tx) => {
    const factor = await factorOf(tx, userId, true);
    if (!factor) throw new AppError("conflict", "Start TOTP enrolment first (POST /v1/me/mfa/totp).");
    if (factor.confirmedAt) throw new AppError("mfa_already_enrolled", "This authenticator app is already confirmed.");
    const trimmed = code.trim();
    if (!(/^\d{6}$/.test(trimmed) && (await acceptTotp(deps, tx, factor, trimmed, now)))) return null;
    await tx.update(mfaFactors).set({ confirmedAt: now }).where(eq(mfaFactors.id, factor.id));
    await tx
      .update(sessions)
      .set({ mfaVerifiedAt: now })
      .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId)));
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await tx.insert(mfaRecoveryCodes).values(
      codes.map((c) => ({
        factorId: factor.id,
        userId,
        codeHash: recoveryHash(deps, c),
        usedAt: null,
        createdAt: now,
      })),
    );
    await recordInUserOrgs(tx, userId, now, "all", {
      action: "auth.mfa_enrolled",
      actorId: userId,
      targetId: userId,
      entityType: "auth",
      after: { factor: "totp", factorId: factor.id },
      ...meta,
    });
    return codes;
  });
  if (!outcome) {
    await throttleCodes(deps, userId);
    throw new AppError(
      "mfa_code_rejected",
      "That code is not valid. Enter the current code from your authenticator app.",
      { param: "code" },
    );
  }
  return outcome;
}

/**
 * Removes the TOTP factor after the current password or a code (TOTP or recovery) proves it is the owner, and
 * ends every other session of the user: whoever set up the factor may have signed in elsewhere with it.
 */
export async function removeTotp(
  deps: AppDeps,
  userId: string,
  currentSessionId: string,
  proof: { password?: string | undefined; code?: string | undefined },
  meta: RequestMeta,
): Promise<{ sessionsEnded: number }> {
  if ((proof.password === undefined) === (proof.code === undefined)) {
    throw new AppError("validation_failed", "Send either `password` or `code`.", {
      param: proof.password === undefined ? "password" : "code",
    });
  }
  const now = deps.clock.now();
  if (proof.password !== undefined) {
    const [user] = await deps.db.tx({ userId }, (tx) =>
      tx.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, userId)),
    );
    if (!(await verifyPassword(user?.passwordHash ?? null, proof.password, deps.config.argon2))) {
      await throttleCodes(deps, userId);
      throw new AppError("current_password_incorrect", "The password is not correct.", { param: "password" });
    }
  }
  const outcome = await deps.db.tx({ userId }, async (tx) => {
    const factor = await factorOf(tx, userId, true);
    if (!factor) throw notFound("TOTP factor");
    if (proof.code !== undefined && !(factor.confirmedAt && (await acceptCode(deps, tx, factor, proof.code, now))))
      return null;
    await tx.delete(mfaFactors).where(eq(mfaFactors.id, factor.id));
    const sessionsEnded = await revokeUserSessions(tx, userId, now, "mfa_removed", currentSessionId);
    if (factor.confirmedAt) {
      await recordInUserOrgs(tx, userId, now, "all", {
        action: "auth.mfa_removed",
        actorId: userId,
        targetId: userId,
        entityType: "auth",
        before: { factor: "totp", factorId: factor.id },
        after: { sessionsEnded, proof: proof.password !== undefined ? "password" : "code" },
        ...meta,
      });
    }
    return { sessionsEnded };
  });
  if (!outcome) {
    await throttleCodes(deps, userId);
    throw new AppError("mfa_code_rejected", "That code is not valid (or was already used).", { param: "code" });
  }
  return outcome;
}

export async function mfaStatus(
  db: Database,
  userId: string,
): Promise<{ totp: "none" | "pending" | "enrolled"; recoveryCodesLeft: number }> {
  return db.tx({ userId }, async (tx) => {
    const factor = await factorOf(tx, userId);
    if (!factor) return { totp: "none", recoveryCodesLeft: 0 } as const;
    const left = await tx.execute(
      sql`SELECT count(*)::int AS n FROM mfa_recovery_codes WHERE user_id = ${userId} AND used_at IS NULL`,
    );
    return {
      totp: factor.confirmedAt ? "enrolled" : "pending",
      recoveryCodesLeft: rowsOf<{ n: number }>(left)[0]?.n ?? 0,
    } as const;
  });
}

/** The password was right and a factor is enrolled: a short-lived, single-use step instead of a session. */
export async function createChallenge(
  tx: Tx,
  userId: string,
  meta: RequestMeta,
  now: Date,
): Promise<{ challengeId: string; expiresAt: Date }> {
  const challengeId = newToken(CHALLENGE_PREFIX);
  const expiresAt = new Date(now.getTime() + CHALLENGE_TTL_MS);
  await tx.insert(mfaChallenges).values({
    idHash: hashToken(challengeId),
    userId,
    createdAt: now,
    expiresAt,
    attempts: 0,
    consumedAt: null,
    ip: meta.ip,
    userAgent: meta.userAgent,
  });
  return { challengeId, expiresAt };
}

/**
 * Completes a sign-in. Each try is counted in its own transaction first, so the cap holds however the code
 * check ends; the session is issued in the same transaction that spends the code and consumes the challenge.
 */
export async function completeChallenge(
  deps: AppDeps,
  input: { challengeId: string; code: string },
  meta: RequestMeta,
): Promise<{ issued: IssuedSession; user: UserRow; factor: SecondFactor }> {
  const now = deps.clock.now();
  const idHash = hashToken(input.challengeId);
  const claimed = await deps.db.tx({}, (tx) =>
    tx
      .update(mfaChallenges)
      .set({ attempts: sql`${mfaChallenges.attempts} + 1` })
      .where(
        and(
          eq(mfaChallenges.idHash, idHash),
          isNull(mfaChallenges.consumedAt),
          gt(mfaChallenges.expiresAt, now),
          lt(mfaChallenges.attempts, CHALLENGE_MAX_ATTEMPTS),
        ),
      )
      .returning({ userId: mfaChallenges.userId }),
  );
  const userId = claimed[0]?.userId;
  if (!userId)
    throw new AppError("mfa_challenge_invalid", "This sign-in step has expired or was used up. Sign in again.");
  const limit = await peekLimit(deps.db, `mfa:user:${userId}`, CODE_LIMIT, now);
  if (!limit.allowed)
    throw new AppError("rate_limited", "Too many wrong codes. Try again later.", {
      retryAfterSeconds: limit.retryAfterSeconds,
    });
  const result = await deps.db.tx({ userId }, async (tx) => {
    const factor = await factorOf(tx, userId);
    if (!factor?.confirmedAt) return null;
    const used = await acceptCode(deps, tx, factor, input.code, now);
    if (!used) return null;
    const consumed = await tx
      .update(mfaChallenges)
      .set({ consumedAt: now })
      .where(and(eq(mfaChallenges.idHash, idHash), isNull(mfaChallenges.consumedAt)))
      .returning({ userId: mfaChallenges.userId });
    // Another request completed this challenge a moment ago; rolling back keeps the code unspent here.
    if (consumed.length === 0)
      throw new AppError("mfa_challenge_invalid", "This sign-in step was already completed. Sign in again.");
    const [user] = await tx.select().from(users).where(eq(users.id, userId));
    // Deactivated between the password and the code: the same answer sign-in gives (auth/service.ts).
    const live = (await tx.select({ status: members.status }).from(members).where(eq(members.userId, userId))).filter(
      (m) => m.status !== "removed",
    );
    if (!user?.platformRole && live.length > 0 && live.every((m) => m.status === "inactive")) {
      throw new AppError("member_inactive", "Your account is deactivated. Ask an administrator to reactivate it.");
    }
    const issued = await issueSession(tx, deps.config, userId, meta, now, { mfaVerified: true });
    await recordInUserOrgs(tx, userId, now, "active", {
      action: "auth.sign_in_succeeded",
      actorId: userId,
      targetId: userId,
      entityType: "auth",
      after: { sessionId: issued.session.id, secondFactor: used },
      ...meta,
    });
    return { issued, user: user!, factor: used };
  });
  if (result) return result;
  await hitLimit(deps.db, `mfa:user:${userId}`, CODE_LIMIT, now);
  await deps.db.tx({ userId }, (tx) =>
    recordInUserOrgs(tx, userId, now, "all", {
      action: "auth.sign_in_failed",
      actorId: userId,
      targetId: userId,
      entityType: "auth",
      after: { reason: "invalid_mfa_code" },
      ...meta,
    }),
  );
  throw new AppError(
    "invalid_mfa_code",
    "That code is not valid (or was already used). Enter the current code from your authenticator app or a recovery code.",
  );
}
