import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createApp } from "../src/app.ts";
import { AppError } from "../src/http/errors.ts";
import { FakeClock } from "../src/lib/clock.ts";
import { freshDatabase, MemoryMailer, testConfig } from "./helpers.ts";

describe("AppError cause", () => {
  it("keeps the error it stands for", () => {
    const reason = new Error("connection refused");
    const err = new AppError("unavailable", "The database is not reachable.", {}, { cause: reason });
    expect(err.cause).toBe(reason);
    expect(new AppError("not_found", "Member not found.").cause).toBeUndefined();
  });

  it("is logged with the request, and never sent to the caller", { timeout: 120_000 }, async () => {
    const { db, close } = await freshDatabase();
    let log = "";
    const stream = new Writable({
      write(chunk: Buffer, _enc, done) {
        log += chunk.toString();
        done();
      },
    });
    // An outage injected at the one call /readyz makes; everything else is the real database.
    const down = { ...db, ping: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432")) };
    const app = await createApp({
      db: down,
      config: testConfig(),
      clock: new FakeClock(),
      mailer: new MemoryMailer(),
      logger: { level: "error", stream },
    });
    try {
      const res = await app.inject({ url: "/readyz" });
      expect(res.statusCode).toBe(503);
      const body = res.json<{ error: Record<string, unknown> }>();
      expect(body.error).toMatchObject({ type: "api_error", code: "unavailable" });
      expect(Object.keys(body.error).sort()).toEqual(["code", "message", "requestId", "type"]);
      expect(log).toContain("The database is not reachable.");
      // The underlying driver error travels as the cause and reaches the log, not the body.
      expect(log).toContain("ECONNREFUSED");
      expect(res.body).not.toContain("ECONNREFUSED");
    } finally {
      await app.close();
      await close();
    }
  });
});
