import { chainHash, canonicalEvent, GENESIS_HASH, type ChainedEvent } from "../../packages/server/src/audit/chain.ts";
const sampleEvent = (i: number) => ({
  action: "team.role_changed", actorId: "usr_01jbenchactor000000000000", targetId: `mem_01jbench${String(i % 5000).padStart(16, "0")}`,
  entityType: "team", before: { role: "member" }, after: { role: i % 2 ? "admin" : "member" }, ip: "203.0.113.10",
  userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
});
const N = 300000;
const events: ChainedEvent[] = [];
for (let seq = 1; seq <= N; seq++) events.push({ orgId: "org_bench", seq, id: `evt_${seq}`, ...sampleEvent(seq), createdAt: new Date(Date.UTC(2026, 0, 1) + seq).toISOString() });
for (let r = 0; r < 3; r++) {
  let t = performance.now();
  let x = 0;
  for (const e of events) x += canonicalEvent(e).length;
  console.log("canonical", ((performance.now() - t) / N * 1000).toFixed(2), "us");
  t = performance.now();
  for (const e of events) chainHash(GENESIS_HASH, e);
  console.log("chainHash", ((performance.now() - t) / N * 1000).toFixed(2), "us");
}
