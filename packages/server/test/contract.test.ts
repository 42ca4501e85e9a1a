import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addMember, bearer, createOrg, json, signUp, testApp, type Session, type TestApp } from "./helpers.ts";
import { contractProblems, errorShapeProblems, type Answer } from "./response-guard.ts";

/**
 * The error contract everywhere: every operation of /openapi.json is called as the owner, a plain member, an API
 * key, a cookie session without its CSRF header and anonymously, with real and made-up ids, ids far over any
 * limit, bad bodies and a NUL character, and each answer is held to the statuses that operation declares and to
 * the contract's error shape. A route added later is walked the same way.
 */
let t: TestApp;
let owner: Session;
let ids: { orgId: string; memberId: string };
const callers: Array<{ name: string; headers: Record<string, string> }> = [];

beforeAll(async () => {
  t = await testApp();
  owner = await signUp(t.app);
  const cookieOwner = json<Session>(
    await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      payload: { email: owner.user.email, password: "correct horse battery staple" },
    }),
  );
  const org = await createOrg(t.app, owner, "saas");
  const member = await addMember(t, org.id, "member");
  // Changes made during the walk land on this member, never on a caller.
  const target = await addMember(t, org.id, "member");
  ids = { orgId: org.id, memberId: target.memberId };
  const minted = await t.app.inject({
    method: "POST",
    url: `/v1/orgs/${org.id}/api-keys`,
    headers: bearer(owner),
    payload: { name: "walk" },
  });
  expect(minted.statusCode, minted.body).toBe(201);
  callers.push(
    { name: "anonymous", headers: {} },
    { name: "member", headers: bearer(member.session) },
    { name: "api key", headers: bearer(json<{ secret: string }>(minted).secret) },
    { name: "cookie without csrf", headers: { cookie: `roster_session=${cookieOwner.token}` } },
    { name: "owner", headers: bearer(owner) },
  );
}, 120_000);
afterAll(async () => t.close());

type Operation = { operationId?: string; responses?: Record<string, unknown> };
interface Op {
  method: string;
  path: string;
  operationId: string | undefined;
  declared: Set<string>;
}

async function operations(): Promise<Op[]> {
  const doc = json<{ paths: Record<string, Record<string, Operation>> }>(await t.app.inject({ url: "/openapi.json" }));
  const out: Op[] = [];
  for (const [path, ops] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(ops))
      out.push({
        method: method.toUpperCase(),
        path,
        operationId: op.operationId,
        declared: new Set(Object.keys(op.responses ?? {})),
      });
  return out;
}

const LONG_ID = "a".repeat(10_000);
const BODY_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/**
 * Run last, and only there with the probes that can reach their handler: they end the caller's sessions or
 * delete the org the others walk in. The owner ends its other sessions (the cookie one) and deletes the org;
 * the API key comes after it, as its org is gone by then.
 */
const LAST = ["DELETE /v1/me/sessions", "DELETE /v1/orgs/{orgId}", "POST /v1/auth/sign-out"];
const LAST_CALLERS = ["anonymous", "member", "cookie without csrf", "owner", "api key"];
/** Probes that a handler may act on (the others are refused by the router, the parser or validation). */
const REACHES_HANDLER = new Set(["plain", "a JSON array"]);

function fill(path: string, override: Record<string, string> = {}): string {
  return path.replace(/\{([A-Za-z]+)\}/g, (_, name: string) =>
    encodeURIComponent(
      override[name] ?? (name === "orgId" ? ids.orgId : name === "memberId" ? ids.memberId : "x_unknown"),
    ),
  );
}
const paramsOf = (path: string) => [...path.matchAll(/\{([A-Za-z]+)\}/g)].map((m) => m[1]!);

interface Probe {
  label: string;
  url: string;
  payload?: string;
  contentType?: string;
}

function probes(op: Op, caller: string): Probe[] {
  const out: Probe[] = [
    {
      label: "plain",
      url: fill(op.path),
      ...(BODY_METHODS.has(op.method) ? { payload: "{}", contentType: "application/json" } : {}),
    },
    { label: "NUL in the query", url: `${fill(op.path)}?q=%00` },
  ];
  if (BODY_METHODS.has(op.method)) {
    out.push(
      { label: "invalid JSON", url: fill(op.path), payload: "{not json", contentType: "application/json" },
      { label: "a JSON array", url: fill(op.path), payload: "[]", contentType: "application/json" },
      { label: "text/plain", url: fill(op.path), payload: "hello", contentType: "text/plain" },
    );
  }
  // Ids over the limits are refused whoever asks; two callers are enough to show it.
  if (caller === "owner" || caller === "anonymous") {
    for (const p of paramsOf(op.path)) {
      out.push(
        { label: `10,000-character ${p}`, url: fill(op.path, { [p]: LONG_ID }) },
        { label: `80-character ${p}`, url: fill(op.path, { [p]: "b".repeat(80) }) },
        { label: `${p} with a space`, url: fill(op.path, { [p]: "bad id" }) },
      );
    }
  }
  return out;
}

async function call(op: Op, headers: Record<string, string>, probe: Probe): Promise<Answer> {
  const res = await t.app.inject({
    method: op.method as "GET",
    url: probe.url,
    headers: { ...headers, ...(probe.contentType ? { "content-type": probe.contentType } : {}) },
    ...(probe.payload !== undefined ? { payload: probe.payload } : {}),
  });
  return { statusCode: res.statusCode, headers: res.headers, body: res.body };
}

describe("the error contract on every operation", () => {
  it("every operation has a unique camelCase operationId", async () => {
    const ops = await operations();
    expect(ops.length).toBeGreaterThan(40);
    const missing = ops.filter((o) => !o.operationId).map((o) => `${o.method} ${o.path}`);
    expect(missing).toEqual([]);
    const badlyNamed = ops.filter((o) => !/^[a-z][A-Za-z0-9]*$/.test(o.operationId!)).map((o) => o.operationId);
    expect(badlyNamed).toEqual([]);
    const seen = new Map<string, string>();
    const duplicates: string[] = [];
    for (const o of ops) {
      const prev = seen.get(o.operationId!);
      if (prev) duplicates.push(`${o.operationId}: ${prev} and ${o.method} ${o.path}`);
      seen.set(o.operationId!, `${o.method} ${o.path}`);
    }
    expect(duplicates).toEqual([]);
  });

  it("answers only declared statuses, never a 5xx, and every error in the contract's shape", async () => {
    // The event stream stays open while it succeeds (events.test.ts and webhooks.test.ts cover its answers).
    const ops = (await operations()).filter((o) => o.operationId !== "streamEvents");
    const problems: string[] = [];
    const statuses = new Map<number, number>();
    const orgSuccesses = new Map<string, number>();
    let requests = 0;
    const run = async (op: Op, caller: (typeof callers)[number], probe: Probe) => {
      const res = await call(op, caller.headers, probe);
      requests++;
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
      if (res.statusCode < 300 && op.path.includes("{orgId}"))
        orgSuccesses.set(caller.name, (orgSuccesses.get(caller.name) ?? 0) + 1);
      for (const p of contractProblems(res, op.declared))
        problems.push(`${op.method} ${op.path} as ${caller.name}, ${probe.label}: ${p}`);
      if (probe.label.startsWith("10,000-character") && ![400, 404, 414].includes(res.statusCode))
        problems.push(`${op.method} ${op.path}, ${probe.label}: answered ${res.statusCode}`);
    };
    const last = ops.filter((o) => LAST.includes(`${o.method} ${o.path}`));
    expect(last.length).toBe(LAST.length);
    for (const caller of callers)
      for (const op of ops)
        for (const probe of probes(op, caller.name)) {
          if (REACHES_HANDLER.has(probe.label) && last.includes(op)) continue;
          await run(op, caller, probe);
        }
    expect(LAST_CALLERS.length).toBe(callers.length);
    for (const name of LAST_CALLERS) {
      const caller = callers.find((c) => c.name === name)!;
      for (const route of LAST) {
        const op = last.find((o) => `${o.method} ${o.path}` === route)!;
        for (const probe of probes(op, caller.name)) if (REACHES_HANDLER.has(probe.label)) await run(op, caller, probe);
      }
    }
    expect(problems).toEqual([]);
    expect(requests).toBeGreaterThan(500);
    // The walk reached past the gates: successes, refusals and not-founds all occurred, and every signed-in
    // caller succeeded on org routes (its session or key stayed valid while it walked).
    for (const s of [200, 204, 400, 401, 403, 404, 415]) expect(statuses.get(s) ?? 0, `status ${s}`).toBeGreaterThan(0);
    for (const name of ["member", "api key", "cookie without csrf", "owner"])
      expect(orgSuccesses.get(name) ?? 0, `${name}: successes on org routes`).toBeGreaterThan(3);
  }, 300_000);
});

describe("framework errors answer in the contract's shape", () => {
  it("a path segment over the router's limit: 400 naming the path, with a request id", async () => {
    const res = await t.app.inject({ url: `/v1/orgs/${LONG_ID}/members` });
    expect(res.statusCode).toBe(400);
    expect(errorShapeProblems(res)).toEqual([]);
    expect(res.json()).toMatchObject({ error: { code: "validation_failed", param: "path" } });
    // Not a route at all: still the contract's 404.
    const unknown = await t.app.inject({ url: `/v1/nothing/${LONG_ID}` });
    expect([400, 404]).toContain(unknown.statusCode);
    expect(errorShapeProblems(unknown)).toEqual([]);
  });

  it("malformed percent-encoding in the path: 400", async () => {
    const res = await t.app.inject({ url: "/v1/orgs/%E0%A4%A/members" });
    expect(res.statusCode).toBe(400);
    expect(errorShapeProblems(res)).toEqual([]);
    expect(res.json()).toMatchObject({ error: { code: "validation_failed", param: "path" } });
  });

  it("over a real socket: not HTTP answers 400, headers over the limit 431, both in shape", async () => {
    await t.app.listen({ host: "127.0.0.1", port: 0 });
    const port = (t.app.server.address() as { port: number }).port;
    const garbage = parseRaw(await rawExchange(port, "THIS IS NOT HTTP\r\n\r\n"));
    expect(garbage.statusCode).toBe(400);
    expect(errorShapeProblems(garbage)).toEqual([]);
    const huge = parseRaw(await rawExchange(port, `GET /v1/orgs/${"a".repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`));
    expect(huge.statusCode).toBe(431);
    expect(errorShapeProblems(huge)).toEqual([]);
    expect(huge.headers.connection).toBe("close");
    // A 10,000-character id still fits in the request line: the router's 400.
    const long = await fetch(`http://127.0.0.1:${port}/v1/orgs/${LONG_ID}`);
    const answer = { statusCode: long.status, headers: Object.fromEntries(long.headers), body: await long.text() };
    expect(answer.statusCode).toBe(400);
    expect(errorShapeProblems(answer)).toEqual([]);
  }, 120_000);

  it("while the instance shuts down: 503 in the contract's shape, not the framework's", async () => {
    const other = await testApp();
    const app = other.app;
    let during: Answer | null = null;
    let port = 0;
    // preClose hooks run after shutdown began and before the listener closes.
    app.addHook("preClose", async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      during = { statusCode: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
    });
    await app.listen({ host: "127.0.0.1", port: 0 });
    port = (app.server.address() as { port: number }).port;
    const before = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(before.status).toBe(200);
    await other.close();
    expect(during).not.toBeNull();
    expect(during!.statusCode).toBe(503);
    expect(errorShapeProblems(during!)).toEqual([]);
    expect(JSON.parse(during!.body)).toMatchObject({ error: { code: "unavailable" } });
  }, 120_000);
});

function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port });
    let data = "";
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer; got ${data.slice(0, 200)}`));
    }, 10_000);
    socket.on("data", (chunk) => (data += chunk.toString("utf8")));
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(data);
    });
    socket.on("error", () => undefined);
    socket.write(request);
  });
}

function parseRaw(raw: string): Answer {
  const [head = "", body = ""] = raw.split("\r\n\r\n");
  const [statusLine = "", ...lines] = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(":");
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { statusCode: Number(statusLine.split(" ")[1]), headers, body };
}
