import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AddressInfo } from "node:net";
import { RosterClient, type RosterEvent } from "../src/index.ts";
import {
  addMember,
  bearer,
  createOrg,
  signUp,
  testApp,
  type Session,
  type TestApp,
} from "../../server/test/helpers.ts";

/** @see issue 16: a live stream that keeps the SDK's cache exact. */

let t: TestApp;
let baseUrl: string;
let orgId: string;
let owner: Session;
let ownerKey: { id: string; secret: string };
let admin: { memberId: string; key: string };

async function mintKey(s: Session, name: string): Promise<{ id: string; secret: string }> {
  const res = await t.app.inject({
    method: "POST",
    url: `/v1/orgs/${orgId}/api-keys`,
    headers: bearer(s),
    payload: { name },
  });
  if (res.statusCode !== 201) throw new Error(res.body);
  return res.json<{ id: string; secret: string }>();
}

/** A change through the API over real HTTP, as a host app's admin screen would make it. */
async function patchAdmin(status: "active" | "inactive"): Promise<void> {
  const res = await fetch(`${baseUrl}/v1/orgs/${orgId}/members/${admin.memberId}`, {
    method: "PATCH",
    headers: { ...bearer(owner), "content-type": "application/json" },
    body: JSON.stringify({ status }),
  });
  expect(res.status).toBe(200);
}

/** Waits (bounded) until `check` holds, yielding to the event loop in between. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;

beforeAll(async () => {
  t = await testApp();
  await t.app.listen({ port: 0, host: "127.0.0.1" });
  baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  owner = await signUp(t.app, undefined, "Olga Owner");
  orgId = (await createOrg(t.app, owner, "saas", "Stream Co")).id;
  ownerKey = await mintKey(owner, "events");
  const a = await addMember(t, orgId, "admin");
  admin = { memberId: a.memberId, key: (await mintKey(a.session, "host app")).secret };
});

afterAll(async () => {
  await t?.close();
});

describe("the live event stream and the SDK", () => {
  it("a subscribed enforcer turns to no after a deactivation through the API (p50/p99 of the delay printed)", async () => {
    const client = new RosterClient({ baseUrl, apiKey: admin.key });
    const seen: RosterEvent[] = [];
    const sub = client.subscribe(orgId, { apiKey: ownerKey.secret, onEvent: (e) => seen.push(e) });
    try {
      await until(() => sub.connected, "the stream connects");
      const afterResponse: number[] = [];
      const afterRequest: number[] = [];
      const rounds = 30;
      for (let i = 0; i < rounds; i++) {
        const enforcer = await client.enforcer(orgId);
        expect(enforcer.can("read", { type: "member" }).allowed).toBe(true);
        const t0 = performance.now();
        await patchAdmin("inactive");
        const t1 = performance.now();
        await until(() => !enforcer.can("read", { type: "member" }).allowed, "the enforcer refuses");
        const t2 = performance.now();
        afterResponse.push(t2 - t1);
        afterRequest.push(t2 - t0);
        expect(enforcer.can("read", { type: "member" }).reason).toContain("team.deactivated");
        const before = seen.length;
        await patchAdmin("active");
        await until(() => seen.slice(before).some((e) => e.type === "team.reactivated"), "the reactivation arrives");
      }
      process.stdout.write(
        `deactivation → SDK can() says no (${rounds} rounds, ${t.db.kind}): after the API answered p50 ${pct(afterResponse, 0.5).toFixed(1)} ms, p99 ${pct(afterResponse, 0.99).toFixed(1)} ms; from the request p50 ${pct(afterRequest, 0.5).toFixed(1)} ms, p99 ${pct(afterRequest, 0.99).toFixed(1)} ms\n`,
      );
      // The stream carried the events in seq order, each once.
      const seqs = seen.map((e) => e.data.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
    } finally {
      sub.close();
    }
  }, 120_000);

  it("resumes after Last-Event-ID in seq order", async () => {
    const res = await fetch(`${baseUrl}/v1/orgs/${orgId}/events/stream`, {
      headers: { authorization: `Bearer ${ownerKey.secret}`, "last-event-id": "1" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = "";
    const decoder = new TextDecoder();
    while ((text.match(/^id: /gm) ?? []).length < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    await reader.cancel();
    const ids = [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    expect(ids.slice(0, 3)).toEqual([2, 3, 4]);
    expect(text).toMatch(/^event: \S+$/m);
  });

  it("refuses the stream without audit_log:read, before the first byte", async () => {
    const m = await addMember(t, orgId, "member");
    const res = await fetch(`${baseUrl}/v1/orgs/${orgId}/events/stream`, { headers: bearer(m.session) });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { requiredPermission: string } }).error.requiredPermission).toBe(
      "audit_log:read",
    );
  });

  it("when the stream stays down past the TTL, enforcers refuse and the next one comes from Roster", async () => {
    const key = await mintKey(owner, "short-lived");
    const client = new RosterClient({ baseUrl, apiKey: admin.key, cacheTtlMs: 300 });
    const states: boolean[] = [];
    const sub = client.subscribe(orgId, { apiKey: key.secret, onStateChange: (c) => states.push(c) });
    try {
      await until(() => sub.connected, "the stream connects");
      const enforcer = await client.enforcer(orgId);
      // Kept beyond the TTL while the stream vouches for it.
      await new Promise((r) => setTimeout(r, 400));
      expect(await client.enforcer(orgId)).toBe(enforcer);
      expect(enforcer.can("read", { type: "member" }).allowed).toBe(true);
      // Revoking the stream's key ends it (the event concerns that key) and it cannot come back.
      const revoked = await t.app.inject({
        method: "DELETE",
        url: `/v1/orgs/${orgId}/api-keys/${key.id}`,
        headers: bearer(owner),
      });
      expect(revoked.statusCode).toBe(204);
      await until(() => states.includes(false), "the stream drops");
      // The revocation itself was an event that drops enforcers.
      expect(enforcer.current).toBe(false);
      // One fetched while the stream is down lives for the TTL only, then refuses.
      const meanwhile = await client.enforcer(orgId);
      expect(meanwhile.can("read", { type: "member" }).allowed).toBe(true);
      await until(() => !meanwhile.current, "the enforcer is dropped once the stream is down past the TTL");
      expect(meanwhile.can("read", { type: "member" }).allowed).toBe(false);
      const next = await client.enforcer(orgId);
      expect(next).not.toBe(meanwhile);
      expect(next.can("read", { type: "member" }).allowed).toBe(true);
    } finally {
      sub.close();
    }
  });
});
