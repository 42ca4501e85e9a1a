import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearer, json, signUp, testApp, type TestApp } from "./helpers.ts";

interface OpenApiDoc {
  paths: Record<
    string,
    Record<string, { operationId?: string; summary?: string; description?: string; responses: Record<string, unknown> }>
  >;
}

describe("GET /v1/capabilities without SMTP_URL (the embedded dev mailbox)", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(async () => t.close());

  it("says the dev mailbox exists, and it does", async () => {
    const s = await signUp(t.app);
    const res = await t.app.inject({ url: "/v1/capabilities", headers: bearer(s) });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({ devMailbox: true });
    expect((await t.app.inject({ url: "/v1/dev/mailbox", headers: bearer(s) })).statusCode).toBe(200);
  });

  it("answers only a signed-in user, in the contract's error shape", async () => {
    const anonymous = await t.app.inject({ url: "/v1/capabilities" });
    expect(anonymous.statusCode).toBe(401);
    const body = json<{ error: { type: string; code: string; requestId: string } }>(anonymous);
    expect(body.error).toMatchObject({ type: "authentication_error", code: "authentication_required" });
    expect(body.error.requestId).toMatch(/\S/);
    const forged = await t.app.inject({ url: "/v1/capabilities", headers: bearer("rs_not-a-real-session") });
    expect(forged.statusCode).toBe(401);
    expect(json(forged)).toMatchObject({ error: { type: "authentication_error" } });
  });

  it("is documented with an operationId, a summary, a description and its error statuses", async () => {
    const doc = json<OpenApiDoc>(await t.app.inject({ url: "/openapi.json" }));
    const op = doc.paths["/v1/capabilities"]?.get;
    expect(op?.operationId).toBe("getCapabilities");
    expect(op?.summary).toBeTruthy();
    expect(op?.description).toContain("devMailbox");
    expect(Object.keys(op?.responses ?? {})).toEqual(expect.arrayContaining(["200", "401", "403"]));
    expect(doc.paths["/v1/dev/mailbox"]).toBeDefined();
  });
});

describe("GET /v1/capabilities with SMTP_URL set", () => {
  let t: TestApp;
  beforeAll(async () => {
    // Nothing is sent in this file: testApp's mailer keeps messages in memory whatever SMTP_URL says.
    t = await testApp({ smtpUrl: "smtp://127.0.0.1:2525" });
  });
  afterAll(async () => t.close());

  it("says there is no dev mailbox, and there is none", async () => {
    const s = await signUp(t.app);
    const res = await t.app.inject({ url: "/v1/capabilities", headers: bearer(s) });
    expect(res.statusCode).toBe(200);
    expect(json(res)).toEqual({ devMailbox: false });
    const mailbox = await t.app.inject({ url: "/v1/dev/mailbox", headers: bearer(s) });
    expect(mailbox.statusCode).toBe(404);
    expect(json(mailbox)).toMatchObject({ error: { type: "not_found_error", code: "route_not_found" } });
    const doc = json<OpenApiDoc>(await t.app.inject({ url: "/openapi.json" }));
    expect(doc.paths["/v1/dev/mailbox"]).toBeUndefined();
    expect(doc.paths["/v1/capabilities"]).toBeDefined();
  });
});
