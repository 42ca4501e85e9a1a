import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { record } from "../src/audit/record.ts";
import {
  canonicalEvent,
  canonicalEventReference,
  chainHash,
  GENESIS_HASH,
  storable,
  type ChainedEvent,
} from "../src/audit/chain.ts";
import { bearer, createOrg, engine, signUp, testApp, type Session, type TestApp } from "./helpers.ts";

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, "..", "..", "..", "docs", "audit", "verify_audit.py");

let t: TestApp;
let owner: Session;
let orgId: string;
let dir: string;
let lines: string[];

/** Runs the shipped script on a file holding `content`; answers its exit status and output. */
async function script(content: string, ...args: string[]): Promise<{ code: number; out: string }> {
  const file = join(dir, `log-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(file, content);
  return run("python3", [SCRIPT, file, ...args]).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "roster-audit-script-"));
  t = await testApp();
  owner = await signUp(t.app);
  orgId = (await createOrg(t.app, owner, "saas", "Exported Org")).id;
  // Content that is easy to canonicalize differently: unicode, control characters, keys outside the BMP,
  // fractions, exponents, big and negative numbers, nesting and empty containers.
  const awkward: Array<Record<string, unknown>> = [
    { name: 'Zoë \u2028 "quoted" \\ tab\t nl\n \u0001 \u007f', emoji: "😀" },
    {
      "\uff61": 1,
      "😀": 2,
      a: [1.5, -0.25, 1e-7, 123456789012, 1e21, 2.5e-300, 0, -3],
      "": { nested: { deeper: [true, false, null, {}, []] } },
    },
    { n: 0.1, m: 100, big: 9007199254740991, small: -1e-6, mid: 1e20, x: 12.34 },
  ];
  for (const after of awkward) {
    t.clock.advance(1000);
    await t.db.tx({ orgId }, (tx) =>
      record(tx, orgId, t.clock.now(), {
        action: "security.updated",
        actorId: owner.user.id,
        targetId: orgId,
        entityType: "security",
        before: null,
        after,
        ip: "2001:db8::1",
        userAgent: "Mozilla/5.0 (ünïcode)",
      }),
    );
  }
  await t.app.inject({
    method: "PATCH",
    url: `/v1/orgs/${orgId}`,
    headers: bearer(owner),
    payload: { name: "Renamed Org" },
  });
  const res = await t.app.inject({
    method: "GET",
    url: `/v1/orgs/${orgId}/audit-events/export?format=jsonl`,
    headers: bearer(owner),
  });
  expect(res.statusCode).toBe(200);
  lines = res.body.trimEnd().split("\n");
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await t.close();
});

const edit = (i: number, fn: (e: Record<string, unknown>) => void) =>
  lines
    .map((l, j) => {
      if (j !== i) return l;
      const e = JSON.parse(l) as Record<string, unknown>;
      fn(e);
      return JSON.stringify(e);
    })
    .join("\n") + "\n";

describe(`docs/audit/verify_audit.py on an export (${engine})`, () => {
  it("verifies the exported log", async () => {
    expect(lines.length).toBe(5);
    const r = await script(lines.join("\n") + "\n");
    expect(r).toMatchObject({ code: 0 });
    const last = JSON.parse(lines[4]!) as { hash: string };
    expect(r.out).toContain(`ok: 5 events verified, last seq 5, last hash ${last.hash}`);
    expect((await script(lines.join("\n") + "\n", "--expect-head", `5:${last.hash}`)).code).toBe(0);
  });

  it("rejects an edited field at its seq", async () => {
    const r = await script(
      edit(2, (e) => {
        (e.after as Record<string, unknown>).n = 0.2;
      }),
    );
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/BROKEN at seq 3: .*edited/);
  });

  it("rejects a deleted line, swapped lines, a forged re-hashed line and a cut-off tail", async () => {
    const without = lines.filter((_, i) => i !== 1).join("\n") + "\n";
    expect(await script(without)).toMatchObject({
      code: 1,
      out: expect.stringMatching(/BROKEN at seq 2: missing/) as unknown,
    });
    // Two events trade places (their seq values swapped to keep the file in order).
    const [a, b] = [JSON.parse(lines[1]!) as { seq: number }, JSON.parse(lines[2]!) as { seq: number }];
    const swapped =
      [lines[0], JSON.stringify({ ...b, seq: 2 }), JSON.stringify({ ...a, seq: 3 }), lines[3], lines[4]].join("\n") +
      "\n";
    expect(await script(swapped)).toMatchObject({
      code: 1,
      out: expect.stringMatching(/BROKEN at seq 2: /) as unknown,
    });
    // Rewritten content with its own hash recomputed: the next event's link gives it away.
    const forged = edit(1, (e) => {
      e.actorId = "usr_somebody_else";
      e.hash = chainHash(e.prevHash as string, e as unknown as ChainedEvent);
    });
    expect(await script(forged)).toMatchObject({
      code: 1,
      out: expect.stringMatching(/BROKEN at seq 3: is not chained to seq 2/) as unknown,
    });
    const head = JSON.parse(lines[4]!) as { hash: string };
    const cut = await script(lines.slice(0, 3).join("\n") + "\n", "--expect-head", `5:${head.hash}`);
    expect(cut).toMatchObject({
      code: 1,
      out: expect.stringMatching(/BROKEN at seq 4: missing, the log ends at seq 3 \(truncated\)/) as unknown,
    });
  });

  it("checks a filtered export event by event with --allow-gaps", async () => {
    const res = await t.app.inject({
      method: "GET",
      url: `/v1/orgs/${orgId}/audit-events/export?format=jsonl&action=security.updated`,
      headers: bearer(owner),
    });
    expect((await script(res.body)).code).toBe(1);
    expect((await script(res.body, "--allow-gaps")).code).toBe(0);
  });

  it("computes the same canonical form and hash as the server for arbitrary JSON (property)", async () => {
    const samples = fc.sample(
      fc.record({
        before: fc.option(fc.dictionary(fc.string({ unit: "grapheme" }), fc.jsonValue({ maxDepth: 3 })), { nil: null }),
        after: fc.option(fc.dictionary(fc.string({ unit: "binary" }), fc.jsonValue({ maxDepth: 2 })), { nil: null }),
        ua: fc.option(fc.string({ unit: "binary" }), { nil: null }),
      }),
      { numRuns: 60, seed: 20261123 },
    );
    let prev = GENESIS_HASH;
    const out: string[] = [];
    samples.forEach((s, i) => {
      // Exactly what record() would store: JSON values without NUL or lone surrogates.
      const clean = storable;
      const e: ChainedEvent = {
        orgId: "org_prop",
        seq: i + 1,
        id: `evt_${i}`,
        action: "security.updated",
        actorId: null,
        targetId: null,
        entityType: "security",
        before: clean(s.before),
        after: clean(s.after),
        ip: null,
        userAgent: storable(s.ua),
        createdAt: "2026-01-15T10:00:00.000Z",
      };
      // The fast path the server hashes with is the general RFC 8785 canonicalizer's output, byte for byte.
      expect(canonicalEvent(e)).toBe(canonicalEventReference(e));
      const hash = chainHash(prev, e);
      out.push(JSON.stringify({ ...e, prevHash: prev, hash }));
      prev = hash;
    });
    const r = await script(out.join("\n") + "\n");
    expect(r.out).toContain("ok: 60 events verified");
    expect(r.code).toBe(0);
  });
});
