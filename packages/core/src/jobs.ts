import { z } from "zod";

/**
 * The job catalog: every queue, its payload schema and its delivery policy. The API validates a
 * payload when enqueuing and the worker validates it again on pickup, so a payload written by an
 * older or newer release is caught at the boundary rather than deep in a processor.
 */

export const RUNS_QUEUE = "runs";

export const runJobPayloadSchema = z.object({
  runId: z.string().min(1),
  projectId: z.string().min(1),
});
export type RunJobPayload = z.infer<typeof runJobPayloadSchema>;

/** Delivery policy of a run job. */
export interface RunJobPolicy {
  /** Attempts in all, the first included (MAX_RETRIES + 1). */
  attempts: number;
  /** Base of the exponential backoff between retries of recoverable errors, in ms. */
  backoffMs: number;
}

/** BullMQ job id of a run: derived from the run id so enqueueing twice is a no-op. */
export function jobIdForRun(runId: string): string {
  return runId;
}

/** Run priority as accepted by the API: 1 is the most urgent, 10 the least. */
export const PRIORITY_MIN = 1;
export const PRIORITY_MAX = 10;
export const PRIORITY_DEFAULT = 5;

/**
 * BullMQ job options of a run. Every run carries a priority (BullMQ serves jobs without one
 * before all prioritized jobs, which would invert the user's intent).
 */
export function runJobOptions(runId: string, priority: number, policy: RunJobPolicy) {
  return {
    jobId: jobIdForRun(runId),
    priority,
    attempts: policy.attempts,
    backoff: { type: "exponential", delay: policy.backoffMs, jitter: 0.5 },
    // Postgres keeps the history; Redis keeps only enough to debug recent jobs.
    removeOnComplete: { age: 3600, count: 1000 },
    removeOnFail: { age: 24 * 3600, count: 5000 },
  } as const;
}

export const validateRunJobPayload = (data: unknown): RunJobPayload => runJobPayloadSchema.parse(data);
