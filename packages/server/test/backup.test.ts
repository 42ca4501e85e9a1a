import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync, gunzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { backupTo, BackupError, restoreFrom } from "../src/backup/backup.ts";
import { rowsOf } from "../src/db/database.ts";
import { verifyChain } from "../src/audit/verify.ts";
import { FakeClock } from "../src/lib/clock.ts";
import {
  addMember,
  bearer,
  createOrg,
  freshDatabase,
  GOOD_PASSWORD,
  json,
  MemoryMailer,
  signUp,
  testApp,
  testConfig,
  type TestApp,
} from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "roster-backup-"));
let t: TestApp;
let orgId: string;
let ownerEmail: string;
const file = join(dir, "backup.jsonl.gz");

const countRows = async (db: TestApp["db"]) =>
  rowsOf<{ n: number }>(
    await db.owner((d) =>
      d.execute(
        "SELECT ((SELECT count(*) FROM users) + (SELECT count(*) FROM members) + (SELECT count(*) FROM audit_events) + (SELECT count(*) FROM organizations))::int AS n",
      ),
    ),
  )[0]!.n;

beforeAll(async () => {
  t = await testApp();
  const owner = await signUp(t.app, undefined, "Olivia Owner");
  ownerEmail = owner.user.email;
  orgId = (await createOrg(t.app, owner, "billing", "Acme")).id;
  await addMember(t, orgId, "sales", { storeIds: [] });
  const res = await t.app.inject({
    method: "PATCH",
    url: `/v1/orgs/${orgId}`,
    headers: bearer(owner),
    payload: { name: "Acme Inc" },
  });
  expect(res.statusCode).toBe(200);
});

afterAll(async () => {
  await t?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("roster backup / restore", () => {
  it("restores a snapshot into a fresh database: same rows, a verifying chain, and the same passwords sign in", async () => {
    const counts = await backupTo(t.db, file);
    expect(counts.users).toBe(2);
    expect(counts.audit_events).toBeGreaterThan(0);
    expect(readFileSync(file).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b])); // gzip

    const target = await freshDatabase();
    try {
      const restored = await restoreFrom(target.db, file);
      expect(restored.users).toBe(counts.users);
      expect(restored.audit_events).toBe(counts.audit_events);
      expect(await countRows(target.db)).toBe(await countRows(t.db));
      const check = await verifyChain(target.db, orgId, { trustedKeys: [] });
      expect(check.ok).toBe(true);

      const app = await createApp({
        db: target.db,
        config: testConfig(),
        clock: new FakeClock(),
        mailer: new MemoryMailer(),
        logger: false,
      });
      try {
        const signIn = await app.inject({
          method: "POST",
          url: "/v1/auth/sign-in",
          payload: { email: ownerEmail, password: GOOD_PASSWORD },
        });
        expect(signIn.statusCode).toBe(200);
        const me = await app.inject({
          method: "GET",
          url: "/v1/me",
          headers: bearer(json<{ token: string }>(signIn).token),
        });
        expect(JSON.stringify(json(me))).toContain("Acme Inc");
      } finally {
        await app.close();
      }

      // A second restore into the now non-empty database is refused and changes nothing.
      const before = await countRows(target.db);
      await expect(restoreFrom(target.db, file)).rejects.toThrow(/not empty/);
      expect(await countRows(target.db)).toBe(before);
    } finally {
      await target.close();
    }
  });

  it("is all or nothing: a damaged line rolls back every row already loaded", async () => {
    const lines = gunzipSync(readFileSync(file)).toString("utf8").trimEnd().split("\n");
    lines.push("{not json");
    const damaged = join(dir, "damaged.jsonl.gz");
    writeFileSync(damaged, gzipSync(lines.join("\n") + "\n"));
    const target = await freshDatabase();
    try {
      await expect(restoreFrom(target.db, damaged)).rejects.toBeInstanceOf(BackupError);
      expect(await countRows(target.db)).toBe(0);
    } finally {
      await target.close();
    }
  });

  it("refuses files that are not Roster backups with a clear message", async () => {
    const plain = join(dir, "plain.txt");
    writeFileSync(plain, "hello");
    const foreign = join(dir, "foreign.jsonl.gz");
    writeFileSync(foreign, gzipSync('{"format":"something-else"}\n'));
    const target = await freshDatabase();
    try {
      await expect(restoreFrom(target.db, plain)).rejects.toThrow(/not a gzipped Roster backup/);
      await expect(restoreFrom(target.db, foreign)).rejects.toThrow(/not a Roster backup/);
      // A missing file and a gzip stream cut short answer at once (the reader used to wait for ever on the first).
      await expect(restoreFrom(target.db, join(dir, "no-such-backup.jsonl.gz"))).rejects.toThrow(
        /cannot be read: .*ENOENT/,
      );
      const whole = gzipSync(`${'{"format":"roster-backup"}\n'.repeat(2000)}`);
      const cut = join(dir, "cut.jsonl.gz");
      writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
      await expect(restoreFrom(target.db, cut)).rejects.toThrow(/cut short|not a Roster backup/);
      expect(await countRows(target.db)).toBe(0);
    } finally {
      await target.close();
    }
  });
});
