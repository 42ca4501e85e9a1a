import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { loadConfig } from "../src/config.ts";
import { bearer, signUp, testApp, type Session, type TestApp } from "./helpers.ts";
import { freePort, registerApplication } from "./oidc.helpers.ts";

const LISTED = "https://app.example.com";
const STRANGER = "https://evil.example.net";

describe("ROSTER_CORS_ORIGINS", () => {
  it("takes exact origins only, and stops the start with the bad value named", () => {
    const env = { ROSTER_SECRET_KEY: "11".repeat(32), ROSTER_DATA_DIR: "memory://" };
    expect(loadConfig({ ...env }).corsOrigins).toEqual([]);
    expect(
      loadConfig({ ...env, ROSTER_CORS_ORIGINS: ` ${LISTED}/ , http://localhost:5173,${LISTED}` }).corsOrigins,
    ).toEqual([LISTED, "http://localhost:5173"]);
    for (const bad of ["*", "app.example.com", `${LISTED}/app`, "ftp://files.example.com", "https://"]) {
      expect(() => loadConfig({ ...env, ROSTER_CORS_ORIGINS: bad }), bad).toThrow(/ROSTER_CORS_ORIGINS/);
    }
  });
});

describe("without listed origins", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(async () => t?.close());

  it("the API gives no cross-origin answer", async () => {
    const s = await signUp(t.app);
    const me = await t.app.inject({ url: "/v1/me", headers: { ...bearer(s), origin: LISTED } });
    expect(me.statusCode).toBe(200);
    expect(me.headers["access-control-allow-origin"]).toBeUndefined();
    const pre = await t.app.inject({
      method: "OPTIONS",
      url: "/v1/me",
      headers: { origin: LISTED, "access-control-request-method": "GET" },
    });
    expect(pre.headers["access-control-allow-origin"]).toBeUndefined();
  });
});

describe("with listed origins", () => {
  let t: TestApp;
  let base: string;
  let member: Session;
  let web: { clientId: string; clientSecret?: string };
  let spa: { clientId: string };
  const spaOrigin = "http://127.0.0.1:9";

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    t = await testApp({ publicUrl: base, corsOrigins: [LISTED] });
    await t.app.listen({ port, host: "127.0.0.1" });
    member = await signUp(t.app);
    const operator = await signUp(t.app);
    await t.db.owner((db) =>
      db.execute(sql`UPDATE users SET platform_role = 'developer_admin' WHERE id = ${operator.user.id}`),
    );
    web = await registerApplication(t, operator, { name: "Web", type: "web", redirectUris: [`${LISTED}/cb`] });
    spa = await registerApplication(t, operator, { name: "SPA", type: "spa", redirectUris: [`${spaOrigin}/cb`] });
  });
  afterAll(async () => t?.close());

  it("answers the preflight before authentication, for the listed origin only", async () => {
    const pre = await fetch(`${base}/v1/authorize`, {
      method: "OPTIONS",
      headers: {
        origin: LISTED,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type",
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe(LISTED);
    expect(pre.headers.get("access-control-allow-headers")).toContain("authorization");
    expect(pre.headers.get("access-control-allow-methods")).toContain("PATCH");
    expect(pre.headers.get("access-control-allow-credentials")).toBeNull();

    const refused = await fetch(`${base}/v1/authorize`, {
      method: "OPTIONS",
      headers: { origin: STRANGER, "access-control-request-method": "POST" },
    });
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("a real request from the listed origin reads the answer and its request id; errors keep the contract", async () => {
    const me = await fetch(`${base}/v1/me`, { headers: { ...bearer(member), origin: LISTED } });
    expect(me.status).toBe(200);
    expect(me.headers.get("access-control-allow-origin")).toBe(LISTED);
    expect(me.headers.get("access-control-expose-headers")).toContain("x-request-id");
    const stranger = await fetch(`${base}/v1/me`, { headers: { ...bearer(member), origin: STRANGER } });
    expect(stranger.headers.get("access-control-allow-origin")).toBeNull();

    const unknown = await fetch(`${base}/v1/nothing-here`, { headers: { origin: LISTED } });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe("route_not_found");
    const bare = await fetch(`${base}/v1/me`, { method: "OPTIONS" });
    expect(bare.status).toBe(204);
    const denied = await fetch(`${base}/v1/me`, { headers: { origin: LISTED } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("access-control-allow-origin")).toBe(LISTED);
  });

  it("the OpenID endpoints: discovery is open; the token endpoint takes listed origins and a public client's own", async () => {
    const disco = await fetch(`${base}/oidc/.well-known/openid-configuration`, { headers: { origin: STRANGER } });
    expect(disco.status).toBe(200);
    expect(disco.headers.get("access-control-allow-origin")).toBe(STRANGER);

    const token = (origin: string, client: { clientId: string; clientSecret?: string }) => {
      const body = new URLSearchParams({
        grant_type: "authorization_code",
        code: "not-a-code",
        redirect_uri: `${spaOrigin}/cb`,
        code_verifier: "x".repeat(43),
        client_id: client.clientId,
        ...(client.clientSecret ? { client_secret: client.clientSecret } : {}),
      });
      return fetch(`${base}/oidc/token`, { method: "POST", headers: { origin }, body });
    };
    const errorOf = async (res: Response) => ((await res.json()) as { error: string }).error;

    // A confidential client from a listed origin passes the origin check (and then fails on the made-up code).
    const listed = await token(LISTED, web);
    expect(listed.headers.get("access-control-allow-origin")).toBe(LISTED);
    expect(await errorOf(listed)).toBe("invalid_grant");
    // From anywhere else it is refused for its origin.
    const stranger = await token(STRANGER, web);
    expect(stranger.status).toBe(400);
    expect(stranger.headers.get("access-control-allow-origin")).toBeNull();
    expect(await errorOf(stranger)).toBe("invalid_request");
    // A browser app (public client) may call from its own redirect origin without being listed.
    const own = await token(spaOrigin, spa);
    expect(own.headers.get("access-control-allow-origin")).toBe(spaOrigin);
    expect(await errorOf(own)).toBe("invalid_grant");
    expect(await errorOf(await token(STRANGER, spa))).toBe("invalid_request");
  });
});
