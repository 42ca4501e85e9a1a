// The HTTP benchmark in its smallest form, so that it keeps working: `roster start` on PGlite in a child
// process, one second of autocannon per endpoint, no PostgreSQL, no Better Auth. Any answer other than 2xx
// under load fails the run.
import { describe, expect, it } from "vitest";
import { runHttpBench } from "../src/http.ts";

describe("npm run bench -- http (tiny: PGlite, 1 s per endpoint)", () => {
  it("measures every Roster endpoint against the same server's /healthz and prints the targets", async () => {
    const lines: string[] = [];
    const result = await runHttpBench({
      seconds: 1,
      connections: 4,
      postgresUrl: undefined,
      pglite: true,
      betterAuth: false,
      changes: 0,
      members: 2,
      log: (line) => lines.push(line),
    });
    expect(result.endpoints.map((r) => [r.server, r.endpoint])).toEqual([
      ["Roster on PGlite", "GET /healthz"],
      ["Roster on PGlite", "GET /v1/me"],
      ["Roster on PGlite", "POST /v1/authorize"],
      ["Roster on PGlite", "member read (self)"],
      ["Roster on PGlite", "members page (limit 50)"],
    ]);
    for (const r of result.endpoints) {
      expect(r.total, r.endpoint).toBeGreaterThan(0);
      expect(r.requestsPerSecond, r.endpoint).toBeGreaterThan(0);
      expect(r.p99, r.endpoint).toBeGreaterThanOrEqual(r.p50);
      expect(r.ratio, r.endpoint).toBeGreaterThan(0);
    }
    expect(result.endpoints[0]!.ratio).toBe(1);
    expect(result.propagation).toBeNull();
    // PGlite targets are judged; those of PostgreSQL and Better Auth say they were not measured.
    const pglite = result.targets.filter((t) => t.name.startsWith("PGlite"));
    expect(pglite).toHaveLength(2);
    for (const t of pglite) expect(typeof t.met).toBe("boolean");
    for (const t of result.targets.filter((x) => !x.name.startsWith("PGlite")))
      expect([t.value, t.met]).toEqual(["not measured", null]);
    const out = lines.join("\n");
    expect(out).toContain("| Roster on PGlite | POST /v1/authorize |");
    expect(out).toContain("Targets (printed, not asserted)");
  }, 240_000);
});
