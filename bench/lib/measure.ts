/** What every measure under bench/measures/ exports, and what it is given. */
import type { MeasureResult } from "./results.ts";

export interface BenchContext {
  mode: "full" | "smoke";
  /** Repetitions of each comparison: ≥ 3 in full mode, 1 in smoke mode. */
  reps: number;
  redisUrl: string;
  /** Progress lines on stderr. */
  log(message: string): void;
}

export type MeasureOutput = Pick<MeasureResult, "params" | "rows" | "details">;

export interface Measure {
  /** File name of the result, and the `--only` argument. */
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<MeasureOutput>;
}
