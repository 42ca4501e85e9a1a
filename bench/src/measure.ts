import { Bench } from "tinybench";

export interface Case {
  name: string;
  /** runs `batch` operations per call, so that the timer's own cost is not what we measure */
  fn: () => void;
  batch: number;
}

/** Operations per second for each case, measured one after the other in this process. */
export async function measure(cases: readonly Case[], timeMs: number): Promise<Map<string, number>> {
  const bench = new Bench({ time: timeMs, warmupTime: Math.min(300, timeMs / 4), iterations: 5, warmupIterations: 3 });
  for (const c of cases) bench.add(c.name, c.fn);
  await bench.warmup();
  await bench.run();
  const out = new Map<string, number>();
  for (const task of bench.tasks) {
    const c = cases.find((x) => x.name === task.name)!;
    const error: unknown = task.result?.error;
    if (error !== undefined) throw error instanceof Error ? error : new Error(`benchmark ${task.name} failed`);
    out.set(task.name, (task.result?.hz ?? 0) * c.batch);
  }
  return out;
}

export function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M/s`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} K/s`;
  return `${perSecond.toFixed(0)} /s`;
}

export function formatRatio(ratio: number): string {
  return ratio >= 100 ? `${ratio.toFixed(0)}×` : `${ratio.toFixed(2)}×`;
}

/** Keeps results observable so the optimiser cannot drop the measured calls. */
export const sink = { value: 0 };
