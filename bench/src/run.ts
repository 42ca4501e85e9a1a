// `npm run bench [-- <filter>...] [--time=<ms>]`: runs the registered benchmarks whose name contains a filter.
import { policyBenchmark } from "./policy.ts";
import { auditBenchmark } from "./audit.ts";
import { exportBenchmark } from "./export.ts";
import { securityBenchmark } from "./security.ts";
import { httpBenchmark } from "./http.ts";
import { scaleBenchmark } from "./scale.ts";
import { webhooksBenchmark } from "./webhooks.ts";
import { oidcBenchmark } from "./oidc.ts";
import type { Benchmark } from "./types.ts";

const BENCHMARKS: readonly Benchmark[] = [
  policyBenchmark,
  exportBenchmark,
  securityBenchmark,
  auditBenchmark,
  httpBenchmark,
  scaleBenchmark,
  webhooksBenchmark,
  oidcBenchmark,
];

const args = process.argv.slice(2);
const timeArg = args.find((a) => a.startsWith("--time="));
const timeMs = timeArg ? Number(timeArg.slice("--time=".length)) : 1500;
const filters = args.filter((a) => !a.startsWith("--"));
const selected = filters.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => filters.some((f) => b.name.includes(f)));

if (selected.length === 0) {
  console.error(`No benchmark matches ${filters.join(", ")}. Available: ${BENCHMARKS.map((b) => b.name).join(", ")}`);
  process.exit(1);
}
if (!Number.isFinite(timeMs) || timeMs <= 0) {
  console.error(`--time must be a positive number of milliseconds`);
  process.exit(1);
}

for (const benchmark of selected) {
  console.log(`\n## ${benchmark.name}: ${benchmark.description}\n`);
  await benchmark.run({ timeMs });
}
