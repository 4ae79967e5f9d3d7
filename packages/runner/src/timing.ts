import type { RunOptions } from "@conveyor/core";

/**
 * How long to wait before an action recorded `recordedMs` after the previous one: nothing with
 * `fast` timing; with `realtime`, scaled by `speed` and capped by `maxDelayMs`. Milliseconds.
 */
export function realtimeDelayMs(
  recordedMs: number | undefined,
  options: Pick<RunOptions, "timing" | "speed" | "maxDelayMs">,
): number {
  if (options.timing !== "realtime" || recordedMs === undefined || recordedMs <= 0) return 0;
  return Math.round(Math.min(recordedMs / options.speed, options.maxDelayMs));
}
