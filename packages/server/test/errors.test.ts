import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import type { Database } from "../src/db/database.ts";
import { bearer, createOrg, json, signUp, testApp, type Session, type TestApp } from "./helpers.ts";

type ErrorShape = {
  error: {
    type: string;
    code: string;
    message: string;
    requestId: string;
    param?: string;
    requiredPermission?: string;
  };
};

let t: TestApp;
let owner: Session;
beforeAll(async () => {
  t = await testApp();
  owner = await signUp(t.app);
});
afterAll(async () => t.close());

function expectError(
  res: { statusCode: number; json: () => unknown; headers: Record<string, unknown> },
  status: number,
  type: string,
  code?: string,
) {
  expect(res.statusCode).toBe(status);
  const body = res.json() as ErrorShape;
  expect(body.error.type).toBe(type);
  if (code) expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(5);
  expect(body.error.requestId).toMatch(/^req_/);
  expect(res.headers["x-request-id"]).toBe(body.error.requestId);
  return body.error;
}

describe("error contract", () => {
  it("400 names the field that failed validation", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-up",
      payload: { email: "not-an-email", name: "X", password: "long enough pw" },
    });
    expect(expectError(res, 400, "invalid_request_error", "validation_failed").param).toBe("email");
    const missing = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-up",
      payload: { email: "a@b.co", password: "long enough pw" },
    });
    expect(expectError(missing, 400, "invalid_request_error").param).toBe("name");
    const extra = await t.app.inject({
      method: "POST",
      url: "/v1/orgs",
      headers: bearer(owner),
      payload: { name: "n", policy: "saas", role: "owner" },
    });
    expect(expectError(extra, 400, "invalid_request_error").param).toBe("role");
  });

  it("400 naming the field for a NUL character anywhere (body, nested, query, path), never a database 500", async () => {
    const signUpNul = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-up",
      payload: { email: "nul@example.com", name: "A\u0000B", password: "long enough pw" },
    });
    expect(expectError(signUpNul, 400, "invalid_request_error", "validation_failed").param).toBe("name");
    const signInNul = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      payload: { email: "a\u0000@example.com", password: "long enough pw" },
    });
    expect(expectError(signInNul, 400, "invalid_request_error", "validation_failed").param).toBe("email");
    const org = await createOrg(t.app, owner, "crm");
    const nested = await t.app.inject({
      method: "POST",
      url: "/v1/authorize",
      headers: bearer(owner),
      payload: { orgId: org.id, action: "read", resource: { type: "lead", ownerId: "x\u0000" } },
    });
    expect(expectError(nested, 400, "invalid_request_error", "validation_failed").param).toBe("resource.ownerId");
    const query = await t.app.inject({
      method: "GET",
      url: `/v1/orgs/${org.id}/members?q=a%00b`,
      headers: bearer(owner),
    });
    expect(expectError(query, 400, "invalid_request_error").param).toBe("q");
    const path = await t.app.inject({ method: "GET", url: `/v1/orgs/${org.id}%00`, headers: bearer(owner) });
    expect(path.statusCode).toBeLessThan(500);
  });

  it("400 for malformed JSON, 415 for another media type", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      headers: { "content-type": "application/json" },
      payload: "{not json",
    });
    expectError(res, 400, "invalid_request_error", "invalid_json");
    const text = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      headers: { "content-type": "text/plain" },
      payload: "hello",
    });
    expectError(text, 415, "invalid_request_error", "unsupported_media_type");
  });

  it("401 without credentials and with a bad token", async () => {
    expectError(await t.app.inject({ url: "/v1/me" }), 401, "authentication_error", "authentication_required");
    expectError(await t.app.inject({ url: "/v1/me", headers: bearer("rs_bogus") }), 401, "authentication_error");
    expectError(
      await t.app.inject({ url: "/v1/me", headers: { authorization: "Basic abc" } }),
      401,
      "authentication_error",
    );
  });

  it("403 with the permission needed", async () => {
    const other = await signUp(t.app);
    const res = await t.app.inject({ url: "/v1/platform/orgs", headers: bearer(other) });
    expect(expectError(res, 403, "authorization_error", "permission_denied").requiredPermission).toBe("tenant:read");
  });

  it("404 for an unknown route and for another org's id", async () => {
    expectError(await t.app.inject({ url: "/v1/nothing-here" }), 404, "not_found_error", "route_not_found");
    const stranger = await signUp(t.app);
    const org = await createOrg(t.app, owner, "saas");
    expectError(
      await t.app.inject({ url: `/v1/orgs/${org.id}`, headers: bearer(stranger) }),
      404,
      "not_found_error",
      "not_found",
    );
    expectError(
      await t.app.inject({ url: `/v1/orgs/org_doesnotexist`, headers: bearer(stranger) }),
      404,
      "not_found_error",
      "not_found",
    );
  });

  it("405 for a known path with the wrong method", async () => {
    const res = await t.app.inject({ method: "PUT", url: "/v1/auth/sign-in" });
    expectError(res, 405, "invalid_request_error", "method_not_allowed");
    expect(res.headers.allow).toContain("POST");
  });

  it("409 for a conflict", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-up",
      payload: { email: owner.user.email, name: "X", password: "long enough pw" },
    });
    expectError(res, 409, "conflict_error", "email_taken");
  });

  it("413 for a body over the limit", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/auth/sign-in",
      payload: { email: "a@b.co", password: "x".repeat(2 * 1024 * 1024) },
    });
    expectError(res, 413, "invalid_request_error", "body_too_large");
  });

  it("422 for a well-formed but unacceptable value", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/orgs",
      headers: bearer(owner),
      payload: { name: "X", policy: "no-such-preset" },
    });
    expect(expectError(res, 422, "invalid_request_error", "unknown_policy").param).toBe("policy");
  });

  it("429 when throttled", async () => {
    const limited = await testApp({
      signInLimits: { perAccount: { max: 1, windowSeconds: 60 }, perIp: { max: 100, windowSeconds: 60 } },
    });
    try {
      const body = { email: "someone@example.com", password: "wrong password" };
      await limited.app.inject({ method: "POST", url: "/v1/auth/sign-in", payload: body });
      await limited.app.inject({ method: "POST", url: "/v1/auth/sign-in", payload: body });
      const res = await limited.app.inject({ method: "POST", url: "/v1/auth/sign-in", payload: body });
      expectError(res, 429, "rate_limit_error", "rate_limited");
      expect(res.headers["retry-after"]).toBeDefined();
    } finally {
      await limited.close();
    }
  });

  it("500 hides internals and keeps the request id", async () => {
    // The database breaks once the app has started (starting reads the signing keys).
    let broken = false;
    const fail = () => new Error('relation "users" violates secret_column password_hash at /srv/roster/db.ts:12');
    const failing: Database = {
      ...t.db,
      tx: async (scope, fn) => {
        if (broken) throw fail();
        return t.db.tx(scope, fn);
      },
      read: async (scope, fn) => {
        if (broken) throw fail();
        return t.db.read(scope, fn);
      },
    };
    const logs: string[] = [];
    const app = await createApp({
      ...t.deps,
      db: failing,
      logger: { level: "error", stream: { write: (l: string) => logs.push(l) } },
    });
    broken = true;
    const res = await app.inject({ url: "/v1/me", headers: bearer(owner) });
    const err = expectError(res, 500, "api_error", "internal_error");
    expect(JSON.stringify(err)).not.toMatch(/relation|password_hash|\/srv|db\.ts/);
    expect(logs.join("\n")).toContain("password_hash");
    await app.close();
  });

  it("GET /readyz answers 503 in the contract's shape when the database is down", async () => {
    const down: Database = {
      ...t.db,
      ping: async () => {
        throw new Error("connection refused");
      },
    };
    const app = await createApp({ ...t.deps, db: down });
    expectError(await app.inject({ url: "/readyz" }), 503, "api_error", "unavailable");
    expect((await t.app.inject({ url: "/readyz" })).statusCode).toBe(200);
    expect(json(await t.app.inject({ url: "/healthz" }))).toEqual({ status: "ok" });
    await app.close();
  });
});

describe("operations endpoints", () => {
  it("GET /metrics serves Prometheus text with route patterns, not raw URLs", async () => {
    await t.app.inject({ url: "/v1/orgs/org_secretid123/members", headers: bearer(owner) });
    const res = await t.app.inject({ url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toContain("text/plain");
    expect(res.body).toContain('roster_http_requests_total{method="GET",route="/v1/orgs/:orgId/members",status="404"}');
    expect(res.body).not.toContain("org_secretid123");
  });
});
