import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testApp, type TestApp } from "../../test/helpers.ts";
import { registerConsole } from "./routes.ts";

describe("console routes inside the full app", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(async () => t.close());

  it("answers the console's own paths with an HTML page", async () => {
    for (const url of [
      "/",
      "/sign-in",
      "/orgs/org_1/team",
      "/orgs/org_1/team/mem_1?q=a",
      "/accept-invitation?token=x",
      "/mfa/enroll",
    ]) {
      const res = await t.app.inject({ url });
      expect([200, 503], url).toContain(res.statusCode);
      expect(res.headers["content-type"], url).toMatch(/text\/html/);
      expect(res.headers["content-security-policy"], url).toContain("frame-ancestors 'none'");
    }
  });

  it("leaves the API's JSON 404 for unknown /v1 paths and every other server path alone", async () => {
    const nope = await t.app.inject({ url: "/v1/nope" });
    expect(nope.statusCode).toBe(404);
    expect(nope.json()).toMatchObject({ error: { code: "route_not_found", type: "not_found_error" } });
    const deep = await t.app.inject({ method: "POST", url: "/v1/orgs/x/unknown" });
    expect(deep.statusCode).toBe(404);
    expect(deep.headers["content-type"]).toMatch(/application\/json/);
    expect((await t.app.inject({ url: "/openapi.json" })).json()).toHaveProperty("openapi");
    expect((await t.app.inject({ url: "/healthz" })).json()).toEqual({ status: "ok" });
    expect((await t.app.inject({ url: "/readyz" })).statusCode).toBe(200);
    expect([200, 302]).toContain((await t.app.inject({ url: "/docs/" })).statusCode);
    const other = await t.app.inject({ url: "/not-a-console-page" });
    expect(other.statusCode).toBe(404);
    expect(other.json()).toMatchObject({ error: { code: "route_not_found" } });
  });

  it("keeps the console out of the OpenAPI document", async () => {
    const doc = (await t.app.inject({ url: "/openapi.json" })).json<{ paths: Record<string, unknown> }>();
    expect(
      Object.keys(doc.paths).filter((p) => !p.startsWith("/v1/") && !["/healthz", "/readyz", "/metrics"].includes(p)),
    ).toEqual([]);
  });
});

describe("serving a built console", () => {
  let dir: string;
  let app: FastifyInstance;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "roster-console-"));
    mkdirSync(join(dir, "dist", "assets"), { recursive: true });
    writeFileSync(join(dir, "dist", "index.html"), "<!doctype html><div id=root></div>");
    writeFileSync(join(dir, "dist", "assets", "app-abc123.js"), "console.log(1)");
    writeFileSync(join(dir, "secret.txt"), "outside dist");
    app = Fastify();
    await registerConsole(app, join(dir, "dist"));
  });
  afterAll(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers index.html for client routes, without caching it", async () => {
    const res = await app.inject({ url: "/orgs/org_1/audit?action=team.invited" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain("<div id=root>");
    expect(res.headers["cache-control"]).toBe("no-cache");
  });

  it("serves hashed assets as immutable and does not turn a missing asset into the page", async () => {
    const asset = await app.inject({ url: "/assets/app-abc123.js" });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["cache-control"]).toContain("immutable");
    expect((await app.inject({ url: "/assets/missing.js" })).statusCode).toBe(404);
  });

  it("never serves files outside the build directory", async () => {
    for (const url of ["/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt"]) {
      const res = await app.inject({ url });
      expect(res.body, url).not.toContain("outside dist");
    }
  });

  it("explains how to build the console when it is missing", async () => {
    const bare = Fastify();
    await registerConsole(bare, join(dir, "nothing-here"));
    const res = await bare.inject({ url: "/orgs/org_1/team" });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain("npm run build -w @roster/console");
    await bare.close();
  });
});
