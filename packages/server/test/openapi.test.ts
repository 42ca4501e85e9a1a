import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Validator } from "@seriousme/openapi-schema-validator";
import { json, testApp, type TestApp } from "./helpers.ts";

let t: TestApp;
beforeAll(async () => {
  t = await testApp();
});
afterAll(async () => t.close());

type Operation = { summary?: string; description?: string; responses?: Record<string, unknown>; security?: unknown[] };

describe("OpenAPI document", () => {
  it("is served at /openapi.json and is a valid OpenAPI 3.1 document", async () => {
    const res = await t.app.inject({ url: "/openapi.json" });
    expect(res.statusCode).toBe(200);
    const doc = json<{ openapi: string }>(res);
    expect(doc.openapi).toBe("3.1.0");
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("every operation has a summary, a description, its error responses and a 500", async () => {
    const doc = json<{ paths: Record<string, Record<string, Operation>> }>(
      await t.app.inject({ url: "/openapi.json" }),
    );
    const problems: string[] = [];
    let count = 0;
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        count++;
        const name = `${method.toUpperCase()} ${path}`;
        if (!op.summary) problems.push(`${name}: no summary`);
        if (!op.description) problems.push(`${name}: no description`);
        const codes = Object.keys(op.responses ?? {});
        if (!codes.includes("500")) problems.push(`${name}: no 500 response`);
        const needsAuth = op.security === undefined || op.security.length > 0;
        if (needsAuth && !codes.includes("401")) problems.push(`${name}: authenticated but no 401 response`);
        if (!codes.some((c) => c.startsWith("2"))) problems.push(`${name}: no success response`);
      }
    }
    expect(count).toBeGreaterThan(10);
    expect(problems).toEqual([]);
  });

  it("renders the reference at /docs", async () => {
    const res = await t.app.inject({ url: "/docs/" });
    expect([200, 302]).toContain(res.statusCode);
  });
});
