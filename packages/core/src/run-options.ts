import { z } from "zod";

/**
 * How a run replays its recording. Sent as `options` with POST /api/runs, stored with the run,
 * passed to the runner as is.
 */
export const runOptionsSchema = z.object({
  /**
   * "fast" (default): no recorded pauses; Playwright's auto-waiting decides when an element is
   * ready. "realtime": waits each action's recorded `delayBeforeMs` (scaled by `speed`, capped by
   * `maxDelayMs`) — for sites that need human pacing.
   */
  timing: z.enum(["fast", "realtime"]).default("fast"),
  /** Realtime only: 2 replays twice as fast as recorded, 0.5 half as fast. Default 1. */
  speed: z.number().min(0.1).max(100).default(1),
  /** Realtime only: the longest single pause, ms. Default 5000. */
  maxDelayMs: z.number().int().min(0).max(60_000).default(5000),
  /** "failure" (default): a screenshot of a failing action; "every": after every action too; "off". */
  screenshots: z.enum(["failure", "every", "off"]).default("failure"),
  /** Record a video of the run (WebM). Default false. */
  video: z.boolean().default(false),
  /** Record a Playwright trace (zip, open with `npx playwright show-trace`). Default false. */
  trace: z.boolean().default(false),
});

export type RunOptions = z.output<typeof runOptionsSchema>;
export type RunOptionsInput = z.input<typeof runOptionsSchema>;

export const DEFAULT_RUN_OPTIONS: RunOptions = runOptionsSchema.parse({});
