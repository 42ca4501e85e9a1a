import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, createOrg, GOOD_PASSWORD, json, signUp, testApp, type TestApp } from "./helpers.ts";
import { codeAt, enrolTotp } from "./security.helpers.ts";
import { rowsOf } from "../src/db/database.ts";
import { open, seal } from "../src/lib/crypto.ts";

/**
 * Reads the raw database as its owner (no row-level security) after enrolment, key minting and sign-in, and
 * looks for any secret a user or integration was handed. None may be there in any form.
 */
let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => t.close());

async function dumpDatabase(): Promise<string> {
  return t.db.owner(async (db) => {
    const tables = rowsOf<{ name: string }>(
      await db.execute(
        sql`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`,
      ),
    );
    expect(tables.map((x) => x.name)).toEqual(
      expect.arrayContaining(["mfa_factors", "mfa_recovery_codes", "api_keys", "sessions", "audit_events"]),
    );
    const parts: string[] = [];
    for (const { name } of tables) {
      const rows = rowsOf<{ row: string }>(
        await db.execute(sql.raw(`SELECT row_to_json(t)::text AS row FROM "${name.replace(/"/g, '""')}" t`)),
      );
      for (const r of rows) parts.push(`${name}: ${r.row}`);
    }
    return parts.join("\n");
  });
}

describe("secrets at rest", () => {
  it("no plaintext TOTP secret, API key, recovery code or session token is stored anywhere", async () => {
    const owner = await signUp(t.app);
    const org = await createOrg(t.app, owner, "saas");
    const { secret, recoveryCodes } = await enrolTotp(t, owner);
    const signIn = json<{ challengeId: string }>(
      await t.app.inject({
        method: "POST",
        url: "/v1/auth/sign-in",
        payload: { email: owner.user.email, password: GOOD_PASSWORD },
      }),
    );
    const verified = json<{ token: string }>(
      await t.app.inject({
        method: "POST",
        url: "/v1/auth/mfa/verify",
        payload: { challengeId: signIn.challengeId, code: codeAt(secret, t.clock.now()) },
      }),
    );
    const key = json<{ secret: string; prefix: string }>(
      await t.app.inject({
        method: "POST",
        url: `/v1/orgs/${org.id}/api-keys`,
        headers: bearer(owner),
        payload: { name: "export job" },
      }),
    );
    const rotated = json<{ secret: string }>(
      await t.app.inject({
        method: "POST",
        url: `/v1/orgs/${org.id}/api-keys/${json<{ data: Array<{ id: string }> }>(await t.app.inject({ url: `/v1/orgs/${org.id}/api-keys`, headers: bearer(owner) })).data[0]!.id}/rotate`,
        headers: bearer(owner),
      }),
    );
    expect(
      (await t.app.inject({ url: `/v1/orgs/${org.id}/members`, headers: bearer(rotated.secret) })).statusCode,
    ).toBe(200);

    const dump = await dumpDatabase();
    expect(dump.length).toBeGreaterThan(1000);
    // The search itself works: what is meant to be stored in the clear is found.
    expect(dump).toContain(owner.user.email);
    expect(dump).toContain(key.prefix);
    const lower = dump.toLowerCase();
    const secretBytes = Buffer.from(base32ToHex(secret), "hex");
    expect(secretBytes).toHaveLength(20);
    const needles: Array<[string, string]> = [
      ["TOTP secret (base32)", secret],
      ["TOTP secret (hex)", secretBytes.toString("hex")],
      ["TOTP secret (base64)", secretBytes.toString("base64")],
      ["API key", key.secret],
      ["API key random part", key.secret.slice(`rk_${key.prefix}_`.length)],
      ["rotated API key", rotated.secret],
      ["session token", owner.token],
      ["MFA session token", verified.token],
      ["challenge id", signIn.challengeId],
      ["password", GOOD_PASSWORD],
    ];
    for (const code of recoveryCodes) {
      needles.push(["recovery code", code], ["recovery code without dash", code.replace("-", "")]);
    }
    for (const [what, value] of needles) {
      expect(lower.includes(value.toLowerCase()), `${what} found in the database`).toBe(false);
    }
    // The seed is there, sealed: AES-256-GCM, v1.<iv>.<tag>.<ciphertext>.
    const sealed = await t.db.owner(async (db) =>
      rowsOf<{ secret_sealed: string }>(
        await db.execute(sql`SELECT secret_sealed FROM mfa_factors WHERE user_id = ${owner.user.id}`),
      ),
    );
    expect(sealed[0]?.secret_sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
  });
});

function base32ToHex(input: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of input) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  let hex = "";
  for (let i = 0; i + 8 <= bits.length; i += 8)
    hex += parseInt(bits.slice(i, i + 8), 2)
      .toString(16)
      .padStart(2, "0");
  return hex;
}

describe("lib/crypto.ts sealing", () => {
  const key = randomBytes(32);

  it("round-trips, and each seal is different (random IV)", () => {
    const a = seal(key, "JBSWY3DPEHPK3PXP", "row:1");
    const b = seal(key, "JBSWY3DPEHPK3PXP", "row:1");
    expect(a).not.toBe(b);
    expect(open(key, a, "row:1")).toBe("JBSWY3DPEHPK3PXP");
    expect(a).not.toContain("JBSWY3DPEHPK3PXP");
  });

  it("does not open with another key, for another row, or after any change", () => {
    const sealed = seal(key, "secret seed", "mfa_factors:fac_1:usr_1");
    expect(() => open(randomBytes(32), sealed, "mfa_factors:fac_1:usr_1")).toThrow();
    expect(() => open(key, sealed, "mfa_factors:fac_2:usr_2")).toThrow();
    const [v, iv, tag, ct] = sealed.split(".") as [string, string, string, string];
    const flip = (s: string) => (s[0] === "A" ? "B" : "A") + s.slice(1);
    expect(() => open(key, [v, iv, tag, flip(ct)].join("."), "mfa_factors:fac_1:usr_1")).toThrow();
    expect(() => open(key, [v, iv, flip(tag), ct].join("."), "mfa_factors:fac_1:usr_1")).toThrow();
    expect(() => open(key, [v, flip(iv), tag, ct].join("."), "mfa_factors:fac_1:usr_1")).toThrow();
    expect(() => open(key, ["v9", iv, tag, ct].join("."), "mfa_factors:fac_1:usr_1")).toThrow();
    expect(() => open(key, "garbage", "mfa_factors:fac_1:usr_1")).toThrow();
  });

  it("a sealed seed copied onto another user's factor row does not open: their codes keep failing", async () => {
    const a = await signUp(t.app);
    const b = await signUp(t.app);
    const ea = await enrolTotp(t, a);
    await enrolTotp(t, b);
    await t.db.owner((db) =>
      db.execute(
        sql`UPDATE mfa_factors SET secret_sealed = (SELECT secret_sealed FROM mfa_factors WHERE user_id = ${a.user.id}) WHERE user_id = ${b.user.id}`,
      ),
    );
    const challenge = json<{ challengeId: string }>(
      await t.app.inject({
        method: "POST",
        url: "/v1/auth/sign-in",
        payload: { email: b.user.email, password: GOOD_PASSWORD },
      }),
    );
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/auth/mfa/verify",
      payload: { challengeId: challenge.challengeId, code: codeAt(ea.secret, t.clock.now()) },
    });
    // Not a user's mistake but a damaged row: a bare 500, without internals.
    expect(res.statusCode).toBe(500);
    expect(res.json<{ error: { type: string } }>().error.type).toBe("api_error");
    expect(res.body).not.toMatch(/decipher|auth tag|aes|stack/i);
  });
});
