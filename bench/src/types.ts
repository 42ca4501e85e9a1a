/** One benchmark module; run.ts runs every registered one whose name matches the filter. */
export interface Benchmark {
  name: string;
  description: string;
  run(options: BenchOptions): Promise<void>;
}

export interface BenchOptions {
  /** measuring time per case, in milliseconds */
  timeMs: number;
}
