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
  /** How many times the run was handed back because its project was at its concurrency limit. */
  capacityWaits: z.number().int().min(0).optional(),
});
export type RunJobPayload = z.infer<typeof runJobPayloadSchema>;

/** Delivery policy of a run job. */
export interface RunJobPolicy {
  /** Attempts in all, the first included (MAX_RETRIES + 1). */
  attempts: number;
  /** Base of the exponential backoff between retries of recoverable errors, in ms. */
  backoffMs: number;
}

/** Name of the backoff strategy of run jobs (implemented by the worker). */
export const RUN_BACKOFF_TYPE = "run-retry";

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
    // A custom type, so the worker's backoff strategy decides per error kind (transient: at once;
    // recoverable: exponential with jitter from `delay`). BullMQ's built-in types would not ask it.
    backoff: { type: RUN_BACKOFF_TYPE, delay: policy.backoffMs },
    // Postgres keeps the history; Redis keeps only enough to debug recent jobs.
    removeOnComplete: { age: 3600, count: 1000 },
    removeOnFail: { age: 24 * 3600, count: 5000 },
  } as const;
}

export const validateRunJobPayload = (data: unknown): RunJobPayload => runJobPayloadSchema.parse(data);

/**
 * Redis pub/sub channel on which the API asks workers to cancel a running run (message: the run
 * id). Whichever worker holds the run aborts it; the others ignore the message.
 */
export function cancelChannel(prefix: string): string {
  return `${prefix}:runs:cancel`;
}

/**
 * Redis key a worker refreshes while it executes a run (TTL: twice the lock duration). Unlike
 * BullMQ's own lock it is rewritten after Redis restarts empty, so the reconciler can tell a run
 * that is still executing from one whose worker is gone.
 */
export function runAliveKey(prefix: string, runId: string): string {
  return `${prefix}:runs:alive:${runId}`;
}

/** Redis key of the reconciler's lease: one reconciler at a time across all workers. */
export function reconcilerLeaseKey(prefix: string): string {
  return `${prefix}:runs:reconciler`;
}

/**
 * Redis key of the artifact sweeper's lease: whoever sets it sweeps, and it expires when the next
 * sweep is due, so the installation sweeps once per period whichever workers come and go.
 */
export function artifactSweepLeaseKey(prefix: string): string {
  return `${prefix}:artifacts:sweeper`;
}
