import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { chainHash, GENESIS_HASH, type ChainedEvent } from "../src/audit/chain.ts";
import { record } from "../src/audit/record.ts";
import { webhookWorker, RETRY_SCHEDULE_MS, DISABLE_AFTER_MS, type WebhookWorker } from "../src/webhooks/worker.ts";
import { webhookDeliveries } from "../src/webhooks/tables.ts";
import { eq } from "drizzle-orm";
import { addMember, bearer, createOrg, json, signUp, testApp, type Session, type TestApp } from "./helpers.ts";
import { Receiver } from "./webhooks.helpers.ts";

/** @see issue 16: signed webhooks for every audit event, in order, none lost. */

type Endpoint = { id: string; url: string; events: string[]; enabled: boolean; secret: string };
type Delivery = {
  id: string;
  eventType: string;
  eventSeq: number | null;
  status: string;
  attempts: number;
  responseStatus: number | null;
  responseBody: string | null;
  nextAttemptAt: string | null;
  log: Array<{ attempt: number; responseStatus: number | null; error: string | null }>;
};

// Names the tests resolve themselves: DNS outside the machine is not part of a test.
const names: Record<string, string> = {
  "hooks.public.test": "93.184.216.34",
  "internal.corp.test": "10.0.0.1",
  "rebind.test": "93.184.216.34",
};
const resolveHost = async (host: string) => {
  const address = names[host];
  if (!address) throw Object.assign(new Error(`ENOTFOUND ${host}`), { code: "ENOTFOUND" });
  return [{ address, family: 4 }];
};

describe("webhooks", () => {
  let t: TestApp;
  let owner: Session;
  let orgId: string;
  const receiver = new Receiver();
  let worker: WebhookWorker;

  beforeAll(async () => {
    // The clock moves by days here (backoff, rotation, disabling): sessions outlive it.
    t = await testApp({
      webhookAllowPrivate: true,
      session: { idleMinutes: 60 * 24 * 365, maxHours: 24 * 365, cookieSecure: false },
    });
    owner = await signUp(t.app);
    orgId = (await createOrg(t.app, owner, "saas")).id;
    await receiver.start();
    worker = webhookWorker(t.deps, { owner: "test-worker" });
  });
  afterAll(async () => {
    await worker.stop();
    await receiver.stop();
    await t.close();
  });

  const api = (method: "GET" | "POST" | "PATCH" | "DELETE", url: string, payload?: object, who: Session = owner) =>
    t.app.inject({ method, url: `/v1/orgs/${orgId}${url}`, headers: bearer(who), ...(payload ? { payload } : {}) });

  /** Runs the worker until nothing is due now (bounded). */
  async function drain(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      const r = await worker.runOnce();
      if (r.delivered + r.failed === 0) return;
    }
    throw new Error("the queue did not drain in 50 rounds");
  }

  async function create(body: object): Promise<Endpoint> {
    const res = await api("POST", "/webhooks", body);
    expect(res.statusCode, res.body).toBe(201);
    return json<Endpoint>(res);
  }

  async function deliveries(endpointId: string): Promise<Delivery[]> {
    const res = await api("GET", `/webhooks/${endpointId}/deliveries?limit=100`);
    expect(res.statusCode, res.body).toBe(200);
    return json<{ data: Delivery[] }>(res).data;
  }

  it("delivers every event of a scripted team journey exactly once, in seq order, signed, with a chain that verifies", async () => {
    const ep = await create({ url: receiver.url, events: ["*"], description: "all events" });
    expect(ep.secret).toMatch(/^whsec_/);
    receiver.secret = ep.secret;
    receiver.received.length = 0;

    const m = await addMember(t, orgId, "member");
    const steps: Array<[string, string, object | undefined]> = [
      ["PATCH", `/members/${m.memberId}`, { role: "admin" }],
      ["PATCH", `/members/${m.memberId}`, { status: "inactive" }],
      ["PATCH", `/members/${m.memberId}`, { status: "active" }],
      ["PATCH", `/members/${m.memberId}`, { role: "member" }],
      ["POST", `/invitations`, { email: "new.person@example.com", role: "member" }],
      ["DELETE", `/members/${m.memberId}`, undefined],
      ["POST", `/members/${m.memberId}/restore`, undefined],
    ];
    for (const [method, url, body] of steps) {
      const res = await api(method as "PATCH", url, body);
      expect(res.statusCode, `${method} ${url}: ${res.body}`).toBeLessThan(300);
    }
    await drain();

    expect(receiver.received.every((r) => r.verified)).toBe(true);
    const events = receiver.received.map((r) => r.payload!);
    // Exactly once: one webhook-id per event, and no seq twice.
    expect(new Set(receiver.received.map((r) => r.id)).size).toBe(receiver.received.length);
    const seqs = events.map((e) => e.data.seq as number);
    // In order and gapless from the endpoint's own creation event on (it subscribes to everything).
    expect(seqs).toEqual(seqs.map((_, i) => seqs[0]! + i));
    expect(events[0]!.type).toBe("webhook.created");
    const team = events.filter((e) => e.type.startsWith("team."));
    expect(team.map((e) => e.type)).toEqual([
      "team.role_changed",
      "team.deactivated",
      "team.reactivated",
      "team.role_changed",
      "team.invited",
      "team.removed",
      "team.restored",
    ]);
    // The chain verifies on the receiving side: each hash recomputed, each prevHash the previous hash.
    const feed = await api("GET", `/audit-events?limit=200`);
    const all = json<{ data: Array<{ seq: number; hash: string }> }>(feed).data;
    let prev = all.find((e) => e.seq === seqs[0]! - 1)?.hash ?? GENESIS_HASH;
    for (const e of events) {
      const { prevHash, hash, ...rest } = e.data as unknown as ChainedEvent & { prevHash: string; hash: string };
      expect(prevHash).toBe(prev);
      expect(chainHash(prevHash, rest)).toBe(hash);
      prev = hash;
    }
    // The envelope: type is the action, data the event as the feed shows it.
    const first = events[1]!;
    expect(first).toMatchObject({
      type: "team.role_changed",
      orgId,
      id: first.data.id,
      createdAt: first.data.createdAt,
    });
    // Nothing more goes out on another round.
    const before = receiver.received.length;
    await drain();
    expect(receiver.received.length).toBe(before);
    await api("DELETE", `/webhooks/${ep.id}`);
  });

  it("retries on 500 with backoff: delivered on the 4th attempt, the log shows all four, later events wait in order", async () => {
    const ep = await create({ url: receiver.url, events: ["team.*"] });
    receiver.secret = ep.secret;
    receiver.received.length = 0;
    receiver.answer = (_r, n) => (n <= 3 ? 500 : 200);
    const m = await addMember(t, orgId, "member");
    expect((await api("PATCH", `/members/${m.memberId}`, { status: "inactive" })).statusCode).toBe(200);
    expect((await api("PATCH", `/members/${m.memberId}`, { status: "active" })).statusCode).toBe(200);

    await drain();
    expect(receiver.received).toHaveLength(1);
    // The list shows each endpoint's newest delivery: here the first event, waiting after a 500.
    const listed = json<{ data: Array<{ id: string; lastDelivery: Record<string, unknown> | null }> }>(
      await api("GET", "/webhooks"),
    ).data.find((e) => e.id === ep.id);
    expect(listed?.lastDelivery).toMatchObject({
      eventType: "team.reactivated",
      status: "pending",
      attempts: 0,
      responseStatus: null,
    });
    for (const wait of RETRY_SCHEDULE_MS.slice(0, 3)) {
      // Not before its time.
      t.clock.advance(wait - 1000);
      await drain();
      t.clock.advance(1000);
      await drain();
    }
    receiver.answer = () => 200;
    const log = await deliveries(ep.id);
    const [reactivated, deactivated] = log;
    expect(deactivated).toMatchObject({
      eventType: "team.deactivated",
      status: "delivered",
      attempts: 4,
      responseStatus: 200,
    });
    expect(deactivated!.log.map((a) => a.responseStatus)).toEqual([500, 500, 500, 200]);
    expect(reactivated).toMatchObject({ eventType: "team.reactivated", status: "delivered", attempts: 1 });
    // One webhook-id across the four attempts; the second event only after the first got through.
    const ids = receiver.received.map((r) => r.id);
    expect(ids.slice(0, 4).every((id) => id === deactivated!.id)).toBe(true);
    expect(ids[4]).toBe(reactivated!.id);
    expect(receiver.received.map((r) => r.payload?.type)).toEqual([
      "team.deactivated",
      "team.deactivated",
      "team.deactivated",
      "team.deactivated",
      "team.reactivated",
    ]);
    await api("DELETE", `/webhooks/${ep.id}`);
  });

  it("queues nothing for a change that rolled back", async () => {
    const ep = await create({ url: receiver.url, events: ["*"] });
    await expect(
      t.db.tx({ orgId }, async (tx) => {
        await record(tx, orgId, t.clock.now(), {
          action: "organization.updated",
          actorId: owner.user.id,
          entityType: "organization",
        });
        throw new Error("roll back");
      }),
    ).rejects.toThrow("roll back");
    const queued = await t.db.tx({ orgId }, (tx) =>
      tx.select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, ep.id)),
    );
    expect(queued.map((d) => d.eventType)).toEqual(["webhook.created"]);
    await api("DELETE", `/webhooks/${ep.id}`);
  });

  it("a rotated secret's old signature verifies for 24 hours, then not", async () => {
    const ep = await create({ url: receiver.url, events: ["team.*"] });
    receiver.received.length = 0;
    receiver.secret = ep.secret;
    const rotated = await api("POST", `/webhooks/${ep.id}/rotate-secret`);
    expect(rotated.statusCode).toBe(200);
    const fresh = json<Endpoint>(rotated).secret;
    expect(fresh).not.toBe(ep.secret);
    expect((await api("POST", `/webhooks/${ep.id}/test`)).statusCode).toBe(202);
    await drain();
    const during = receiver.received.at(-1)!;
    expect(
      receiver.verify(
        { "webhook-id": during.id, "webhook-timestamp": during.timestamp, "webhook-signature": during.signature },
        during.body,
        ep.secret,
      ).verified,
    ).toBe(true);
    expect(
      receiver.verify(
        { "webhook-id": during.id, "webhook-timestamp": during.timestamp, "webhook-signature": during.signature },
        during.body,
        fresh,
      ).verified,
    ).toBe(true);
    expect(during.payload?.type).toBe("webhook.test");

    t.clock.advance(24 * 3600_000 + 1000);
    expect((await api("POST", `/webhooks/${ep.id}/test`)).statusCode).toBe(202);
    await drain();
    const after = receiver.received.at(-1)!;
    expect(after.id).not.toBe(during.id);
    const headers = {
      "webhook-id": after.id,
      "webhook-timestamp": after.timestamp,
      "webhook-signature": after.signature,
    };
    expect(receiver.verify(headers, after.body, ep.secret).verified).toBe(false);
    expect(receiver.verify(headers, after.body, fresh).verified).toBe(true);
    // A forged body fails with the right secret too.
    expect(() => new Webhook(fresh).verify(after.body.replace("webhook.test", "team.removed"), headers)).toThrow();
    await api("DELETE", `/webhooks/${ep.id}`);
  });

  it("shows the secret only once, audits changes, and answers 404 for unknown or foreign ids", async () => {
    const ep = await create({ url: receiver.url, events: ["team.*", "api_key.created"] });
    const list = json<{ data: object[] }>(await api("GET", "/webhooks"));
    expect(JSON.stringify(list)).not.toContain("whsec_");
    const one = await api("GET", `/webhooks/${ep.id}`);
    expect(one.statusCode).toBe(200);
    expect(one.body).not.toContain("whsec_");
    const patched = await api("PATCH", `/webhooks/${ep.id}`, { enabled: false, events: ["*"] });
    expect(json(patched)).toMatchObject({
      enabled: false,
      events: ["*"],
      disabledReason: "Disabled by an administrator.",
    });
    const feed = json<{ data: Array<{ action: string; after: Record<string, unknown> | null }> }>(
      await api("GET", "/audit-events?limit=10"),
    ).data;
    expect(feed[0]!.action).toBe("webhook.updated");
    expect(JSON.stringify(feed)).not.toContain("whsec_");
    expect((await api("GET", `/webhooks/whk_nope`)).statusCode).toBe(404);
    const other = await signUp(t.app);
    const otherOrg = (await createOrg(t.app, other, "saas")).id;
    const foreign = await t.app.inject({
      method: "GET",
      url: `/v1/orgs/${otherOrg}/webhooks/${ep.id}`,
      headers: bearer(other),
    });
    expect(foreign.statusCode).toBe(404);
    // A disabled endpoint gets nothing queued, and refuses a retry.
    expect((await api("POST", `/webhooks/${ep.id}/test`)).statusCode).toBe(202);
    const [test] = await deliveries(ep.id);
    expect((await api("POST", `/webhooks/${ep.id}/deliveries/${test!.id}/retry`)).statusCode).toBe(409);
    expect((await api("DELETE", `/webhooks/${ep.id}`)).statusCode).toBe(204);
    expect(json(await api("GET", "/audit-events?limit=1")).data).toMatchObject([{ action: "webhook.deleted" }]);
  });

  it("needs webhook:manage: a member gets 403 naming the permission", async () => {
    const m = await addMember(t, orgId, "member");
    const res = await api("GET", "/webhooks", undefined, m.session);
    expect(res.statusCode).toBe(403);
    expect(json<{ error: { requiredPermission: string } }>(res).error.requiredPermission).toBe("webhook:manage");
    const admin = await addMember(t, orgId, "admin");
    expect((await api("GET", "/webhooks", undefined, admin.session)).statusCode).toBe(200);
  });

  it("rejects malformed input with the field named", async () => {
    const bad = await api("POST", "/webhooks", { url: receiver.url, events: ["team.nope"] });
    expect(bad.statusCode).toBe(422);
    expect(json<{ error: { param: string } }>(bad).error.param).toBe("events.0");
    const none = await api("POST", "/webhooks", { url: receiver.url, events: [] });
    expect(none.statusCode).toBe(400);
    const notUrl = await api("POST", "/webhooks", { url: "not a url", events: ["*"] });
    expect(json<{ error: { code: string; param: string } }>(notUrl).error).toMatchObject({
      code: "webhook_url_refused",
      param: "url",
    });
  });

  it("retry sends a failed delivery again with the same webhook-id", async () => {
    const ep = await create({ url: receiver.url, events: ["team.*"] });
    receiver.secret = ep.secret;
    receiver.answer = () => 503;
    receiver.received.length = 0;
    expect((await api("POST", `/webhooks/${ep.id}/test`)).statusCode).toBe(202);
    await drain();
    const [d] = await deliveries(ep.id);
    expect(d).toMatchObject({ status: "pending", attempts: 1, responseStatus: 503, responseBody: "receiver says no" });
    expect(d!.nextAttemptAt).not.toBeNull();
    receiver.answer = () => 200;
    const retried = await api("POST", `/webhooks/${ep.id}/deliveries/${d!.id}/retry`);
    expect(retried.statusCode).toBe(202);
    await drain();
    const [after] = await deliveries(ep.id);
    expect(after).toMatchObject({ id: d!.id, status: "delivered", attempts: 2 });
    expect(receiver.received.map((r) => r.id)).toEqual([d!.id, d!.id]);
    await api("DELETE", `/webhooks/${ep.id}`);
  });

  it("disables an endpoint that fails for 5 days and emails the org's owners", async () => {
    const ep = await create({ url: receiver.url, events: ["team.*"] });
    receiver.answer = () => 500;
    expect((await api("POST", `/webhooks/${ep.id}/test`)).statusCode).toBe(202);
    t.mailer.sent.length = 0;
    const mail = await import("../src/mail/worker.ts");
    const started = t.clock.now().getTime();
    for (let i = 0; i < 200 && t.clock.now().getTime() - started <= DISABLE_AFTER_MS + 3600_000; i++) {
      await drain();
      // Each failed test delivery is given up after 8 attempts; keep one queued so attempts go on.
      const [d] = await deliveries(ep.id);
      if (d?.status === "failed") await api("POST", `/webhooks/${ep.id}/deliveries/${d.id}/retry`);
      const now = json<Endpoint>(await api("GET", `/webhooks/${ep.id}`));
      if (!now.enabled) break;
      t.clock.advance(10 * 3600_000);
    }
    const after = json<Endpoint & { disabledReason: string }>(await api("GET", `/webhooks/${ep.id}`));
    expect(after).toMatchObject({ enabled: false, disabledReason: "Every attempt failed for 5 days." });
    await mail.outboxWorker(t.deps, { eraseAfterSend: false }).runOnce();
    const notices = t.mailer.sent.filter((m) => m.subject.includes("was disabled"));
    expect(notices.map((m) => m.to)).toEqual([owner.user.email]);
    receiver.answer = () => 200;
    await api("DELETE", `/webhooks/${ep.id}`);
  });
});

describe("webhook targets", () => {
  let t: TestApp;
  let owner: Session;
  let orgId: string;
  beforeAll(async () => {
    t = await testApp();
    t.deps.resolveHost = resolveHost;
    owner = await signUp(t.app);
    orgId = (await createOrg(t.app, owner, "saas")).id;
  });
  afterAll(async () => t.close());

  const createWith = (url: string) =>
    t.app.inject({
      method: "POST",
      url: `/v1/orgs/${orgId}/webhooks`,
      headers: bearer(owner),
      payload: { url, events: ["*"] },
    });

  it.each([
    ["http://127.0.0.1:9/hooks", "https"],
    ["https://127.0.0.1/hooks", "loopback"],
    ["http://169.254.169.254/", "https"],
    ["https://169.254.169.254/latest/meta-data", "metadata"],
    ["https://[::1]/x", "loopback"],
    ["https://[::ffff:10.0.0.1]/x", "private"],
    ["https://internal.corp.test/hooks", "private"],
    ["https://nowhere.test/hooks", "cannot be resolved"],
    ["https://user:pw@hooks.public.test/", "password"],
  ])("refuses %s without the operator flag", async (url, why) => {
    const res = await createWith(url);
    expect(res.statusCode, res.body).toBe(422);
    expect(json<{ error: { code: string; message: string } }>(res).error.code).toBe("webhook_url_refused");
    expect(json<{ error: { message: string } }>(res).error.message).toContain(why);
  });

  it("accepts a public https URL, and refuses at send time a name that now resolves to a private address", async () => {
    const ok = await createWith("https://rebind.test/hooks");
    expect(ok.statusCode, ok.body).toBe(201);
    names["rebind.test"] = "10.0.0.1";
    const id = json<{ id: string }>(ok).id;
    await t.app.inject({ method: "POST", url: `/v1/orgs/${orgId}/webhooks/${id}/test`, headers: bearer(owner) });
    const worker = webhookWorker(t.deps, { owner: "target-worker" });
    await worker.runOnce();
    await worker.stop();
    const log = json<{ data: Delivery[] }>(
      await t.app.inject({ method: "GET", url: `/v1/orgs/${orgId}/webhooks/${id}/deliveries`, headers: bearer(owner) }),
    ).data;
    expect(log.at(-1)!.log[0]!.error).toContain("10.0.0.1 is a private address");
    expect(log.at(-1)!.status).toBe("pending");
  });

  it("with the operator flag, loopback is allowed but cloud metadata still is not", async () => {
    const flagged = await testApp({ webhookAllowPrivate: true });
    try {
      const s = await signUp(flagged.app);
      const org = (await createOrg(flagged.app, s, "saas")).id;
      const post = (url: string) =>
        flagged.app.inject({
          method: "POST",
          url: `/v1/orgs/${org}/webhooks`,
          headers: bearer(s),
          payload: { url, events: ["*"] },
        });
      expect((await post("http://127.0.0.1:9/hooks")).statusCode).toBe(201);
      const meta = await post("http://169.254.169.254/");
      expect(meta.statusCode).toBe(422);
      expect(meta.body).toContain("metadata");
    } finally {
      await flagged.close();
    }
  });
});

describe("the event catalogue", () => {
  it("docs/webhook-events.md lists every audit action (run `npm run docs:events` when this fails)", async () => {
    const fs = await import("node:fs");
    const path = await import("node:path");
    const { renderEventCatalogue } = await import("../src/webhooks/catalogue.ts");
    const { AUDIT_ACTIONS } = await import("../src/audit/record.ts");
    const committed = fs.readFileSync(
      path.join(import.meta.dirname, "..", "..", "..", "docs", "webhook-events.md"),
      "utf8",
    );
    expect(committed).toBe(renderEventCatalogue());
    for (const a of AUDIT_ACTIONS) expect(committed).toContain(`## \`${a}\``);
  });

  it("the console offers every audit action in its event picker and audit filter, in the server's order", async () => {
    const { AUDIT_ACTIONS } = await import("../src/audit/record.ts");
    const console = await import("../../console/src/lib/audit-actions.ts");
    expect([...console.AUDIT_ACTIONS]).toEqual([...AUDIT_ACTIONS]);
  });
});
