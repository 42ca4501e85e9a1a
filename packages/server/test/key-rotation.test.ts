import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { createApp } from "../src/app.ts";
import { loadConfig, type Config } from "../src/config.ts";
import { resealSecrets } from "../src/ops/reseal.ts";
import { rowsOf } from "../src/db/database.ts";
import { GOOD_PASSWORD, json, signUp, testApp, testConfig, type Session, type TestApp } from "./helpers.ts";
import { codeAt, enrolTotp } from "./security.helpers.ts";

const OLD = "11".repeat(32); // testConfig's key
const NEW = "22".repeat(32);
let t: TestApp;
let user: Session;
let secret: string;
let recoveryCodes: string[];
const apps: FastifyInstance[] = [];

/** The same database and clock as `t`, under other keys: what a restarted instance after a rotation would be. */
async function appWith(keys: Pick<Config, "secretKey" | "previousSecretKeys">): Promise<FastifyInstance> {
  const app = await createApp({ ...t.deps, config: { ...testConfig(), ...keys } });
  apps.push(app);
  return app;
}

/** Password step, then the code step; answers the status of the code step. */
async function signInWithCode(app: FastifyInstance): Promise<number> {
  const first = await app.inject({
    method: "POST",
    url: "/v1/auth/sign-in",
    payload: { email: user.user.email, password: GOOD_PASSWORD },
  });
  expect(first.statusCode).toBe(200);
  const { challengeId } = json<{ mfaRequired: boolean; challengeId: string }>(first);
  const res = await app.inject({
    method: "POST",
    url: "/v1/auth/mfa/verify",
    payload: { challengeId, code: codeAt(secret, t.clock.now()) },
  });
  t.clock.advance(30_000); // each code is accepted once
  return res.statusCode;
}

const sealedNow = async () =>
  rowsOf<{ s: string }>(await t.db.owner((db) => db.execute("SELECT secret_sealed AS s FROM mfa_factors")))[0]!.s;

beforeAll(async () => {
  t = await testApp();
  user = await signUp(t.app, undefined, "Rita Rotation");
  ({ secret, recoveryCodes } = await enrolTotp(t, user));
});

afterAll(async () => {
  for (const a of apps) await a.close();
  await t?.close();
});

describe("rotating ROSTER_SECRET_KEY", () => {
  it("reads ROSTER_SECRET_KEY_PREVIOUS as a list of keys and refuses a malformed one", () => {
    const c = loadConfig({
      ROSTER_SECRET_KEY: NEW,
      ROSTER_SECRET_KEY_PREVIOUS: `${OLD}, ${"33".repeat(32)}`,
      ROSTER_DATA_DIR: "memory://",
    });
    expect(c.previousSecretKeys.map((k) => k.toString("hex"))).toEqual([OLD, "33".repeat(32)]);
    expect(() =>
      loadConfig({ ROSTER_SECRET_KEY: NEW, ROSTER_SECRET_KEY_PREVIOUS: "short", ROSTER_DATA_DIR: "memory://" }),
    ).toThrow(/ROSTER_SECRET_KEY_PREVIOUS must be 32 bytes/);
  });

  it("keeps MFA working through the rotation: old key as previous, reseal, then the new key alone", async () => {
    const oldKey = Buffer.from(OLD, "hex");
    const newKey = Buffer.from(NEW, "hex");
    expect(await signInWithCode(await appWith({ secretKey: newKey, previousSecretKeys: [oldKey] }))).toBe(200);

    // A wrong set of keys stops the reseal and changes nothing.
    const before = await sealedNow();
    await expect(resealSecrets(t.db, { secretKey: newKey, previousSecretKeys: [] })).rejects.toThrow(
      /opens with none of the keys/,
    );
    expect(await sealedNow()).toBe(before);

    const r = await resealSecrets(t.db, { secretKey: newKey, previousSecretKeys: [oldKey] });
    expect(r.factors).toBe(1);
    expect(r.others).toBeGreaterThan(0); // the OIDC signing key, sealed under the old key
    expect(await sealedNow()).not.toBe(before);
    expect(await signInWithCode(await appWith({ secretKey: newKey, previousSecretKeys: [] }))).toBe(200);
  });

  it("recovery codes issued before the rotation match while the old key is listed, and not after", async () => {
    const recoveryWith = async (app: FastifyInstance, code: string) => {
      const first = await app.inject({
        method: "POST",
        url: "/v1/auth/sign-in",
        payload: { email: user.user.email, password: GOOD_PASSWORD },
      });
      const { challengeId } = json<{ challengeId: string }>(first);
      return (await app.inject({ method: "POST", url: "/v1/auth/mfa/verify", payload: { challengeId, code } }))
        .statusCode;
    };
    const newKey = Buffer.from(NEW, "hex");
    expect(
      await recoveryWith(
        await appWith({ secretKey: newKey, previousSecretKeys: [Buffer.from(OLD, "hex")] }),
        recoveryCodes[0]!,
      ),
    ).toBe(200);
    expect(
      await recoveryWith(await appWith({ secretKey: newKey, previousSecretKeys: [] }), recoveryCodes[1]!),
    ).not.toBe(200);
  });

  it("cookie sessions from before the rotation keep passing the CSRF check while the old key is listed", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      payload: { email: (await signUp(t.app, undefined, "Cora Cookie")).user.email, password: GOOD_PASSWORD },
    });
    const cookies = res.cookies.map((c) => `${c.name}=${c.value}`).join("; ");
    const csrf =
      res.cookies.find((c) => c.name.toLowerCase().includes("csrf"))?.value ??
      json<{ csrfToken: string }>(res).csrfToken;
    const signOut = (app: FastifyInstance) =>
      app.inject({ method: "POST", url: "/v1/auth/sign-out", headers: { cookie: cookies, "x-csrf-token": csrf } });
    const rotated = await appWith({ secretKey: Buffer.from(NEW, "hex"), previousSecretKeys: [] });
    expect((await signOut(rotated)).statusCode).toBe(403);
    const overlapping = await appWith({
      secretKey: Buffer.from(NEW, "hex"),
      previousSecretKeys: [Buffer.from(OLD, "hex")],
    });
    expect((await signOut(overlapping)).statusCode).toBe(204);
  });
});
