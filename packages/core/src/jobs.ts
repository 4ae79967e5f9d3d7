import { z } from "zod";
import { dispositionFor, type ErrorKind } from "./errors.ts";

/**
 * The job catalog: every job Conveyor puts on a queue, by name, with its queue, its payload
 * schema and its delivery policy (attempts, backoff, removal). Everything that enqueues — the
 * API, the reconciler, anything later (schedules, notifications) — goes through {@link buildJob}
 * / {@link enqueue}, and the worker reads a job it picked up with {@link readJob}: one schema on
 * both sides, so a payload written by an older or newer release is caught at the boundary rather
 * than deep in a processor. Time limits of a run are not job options: they live on the run row
 * (`timeout_ms`, `action_timeout_ms`), where the API set them when it accepted the run.
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

/** Name of the backoff strategy of run jobs (implemented by the worker with {@link retryDelayMs}). */
export const RUN_BACKOFF_TYPE = "run-retry";

/** BullMQ job id of a run: derived from the run id so enqueueing twice is a no-op. */
export function jobIdForRun(runId: string): string {
  return runId;
}

/** Run priority as accepted by the API: 1 is the most urgent, 10 the least. */
export const PRIORITY_MIN = 1;
export const PRIORITY_MAX = 10;
export const PRIORITY_DEFAULT = 5;

/** BullMQ options of one job, as the catalog builds them. */
export interface JobOptions {
  jobId: string;
  priority?: number;
  attempts: number;
  backoff?: { type: string; delay: number };
  /** Wait this long before the job may be taken, ms. Default 0. */
  delay?: number;
  removeOnComplete: { age: number; count: number } | boolean;
  removeOnFail: { age: number; count: number } | boolean;
}

/**
 * BullMQ job options of a run. Every run carries a priority (BullMQ serves jobs without one
 * before all prioritized jobs, which would invert the user's intent).
 */
export function runJobOptions(runId: string, priority: number, policy: RunJobPolicy): JobOptions {
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
  };
}

/** One entry of the catalog: where a job goes, what it carries, how it is delivered. */
export interface JobDefinition<Schema extends z.ZodType, Params> {
  /** The queue it is added to. */
  queue: string;
  /** The BullMQ job name (what a worker checks before reading the payload). */
  name: string;
  /** Its payload, checked when it is enqueued and again when a worker picks it up. */
  schema: Schema;
  /** Its BullMQ options (id, priority, attempts, backoff, removal) for one payload. */
  options(payload: z.infer<Schema>, params: Params): JobOptions;
}

/** Parameters a run job is enqueued with: its priority and the run's delivery policy. */
export interface RunJobParams {
  priority: number;
  policy: RunJobPolicy;
}

/** The queue of notification deliveries (worker/src/notify). */
export const NOTIFICATIONS_QUEUE = "notifications";

export const deliveryJobPayloadSchema = z.object({
  deliveryId: z.string().min(1),
  projectId: z.string().min(1),
  /** The attempt this job makes (1 for the first): a job of an attempt already made does nothing. */
  attempt: z.number().int().min(1),
});
export type DeliveryJobPayload = z.infer<typeof deliveryJobPayloadSchema>;

/**
 * BullMQ job id of one attempt of a delivery: adding the same attempt twice (the API after its
 * commit, the outbox sweep, the sender scheduling its retry) is a no-op while the job lives.
 */
export function jobIdForDelivery(deliveryId: string, attempt: number): string {
  return `${deliveryId}-${attempt}`;
}

/** Parameters a delivery job is enqueued with: how long until its attempt is due, ms. */
export interface DeliveryJobParams {
  delayMs: number;
}

export const JOB_CATALOG = {
  /** Execute one run (the payload says which; Postgres holds the run). */
  run: {
    queue: RUNS_QUEUE,
    name: "run",
    schema: runJobPayloadSchema,
    options: (payload, params) => runJobOptions(payload.runId, params.priority, params.policy),
  } satisfies JobDefinition<typeof runJobPayloadSchema, RunJobParams>,
  /**
   * Wake a sender for one attempt of a notification delivery. Postgres holds the delivery and
   * its retry schedule; the job is only the alarm clock, so it is never retried by BullMQ (the
   * sender writes the next attempt's time and job), and it is removed as soon as it ends: its id
   * then no longer blocks the outbox sweep from adding the attempt again when it was lost.
   */
  deliver: {
    queue: NOTIFICATIONS_QUEUE,
    name: "deliver",
    schema: deliveryJobPayloadSchema,
    options: (payload, params) => ({
      jobId: jobIdForDelivery(payload.deliveryId, payload.attempt),
      attempts: 1,
      ...(params.delayMs > 0 ? { delay: Math.round(params.delayMs) } : {}),
      removeOnComplete: true,
      removeOnFail: true,
    }),
  } satisfies JobDefinition<typeof deliveryJobPayloadSchema, DeliveryJobParams>,
} as const;

export type JobName = keyof typeof JOB_CATALOG;
export type JobPayloadOf<N extends JobName> = z.infer<(typeof JOB_CATALOG)[N]["schema"]>;
export type JobParamsOf<N extends JobName> = Parameters<(typeof JOB_CATALOG)[N]["options"]>[1];

/** A job ready for `Queue.add` / `Queue.addBulk`. */
export interface BuiltJob<N extends JobName = JobName> {
  name: (typeof JOB_CATALOG)[N]["name"];
  data: JobPayloadOf<N>;
  opts: JobOptions;
}

/** Validates `payload` against the catalog (throws a ZodError naming the field) and builds the job. */
export function buildJob<N extends JobName>(name: N, payload: JobPayloadOf<N>, params: JobParamsOf<N>): BuiltJob<N> {
  const definition = JOB_CATALOG[name] as unknown as JobDefinition<z.ZodType<JobPayloadOf<N>>, JobParamsOf<N>> & {
    name: (typeof JOB_CATALOG)[N]["name"];
  };
  const data = definition.schema.parse(payload);
  return { name: definition.name, data, opts: definition.options(data, params) };
}

/** What {@link enqueue} needs of a BullMQ `Queue` (structural, so core does not depend on BullMQ). */
export interface JobSink<J = unknown> {
  add(name: string, data: never, opts: JobOptions): Promise<J>;
  addBulk(jobs: { name: string; data: never; opts: JobOptions }[]): Promise<J[]>;
}

/** Enqueues one job through the catalog. Adding a job whose id exists returns the existing job. */
export async function enqueue<N extends JobName, J>(
  queue: JobSink<J>,
  name: N,
  payload: JobPayloadOf<N>,
  params: JobParamsOf<N>,
): Promise<J> {
  const job = buildJob(name, payload, params);
  return await queue.add(job.name, job.data as never, job.opts);
}

/** Enqueues built jobs in one round trip (`addBulk`); a lone job goes out with a plain `add`. */
export async function enqueueBuilt<J>(queue: JobSink<J>, jobs: BuiltJob[]): Promise<J[]> {
  const [only] = jobs;
  if (only && jobs.length === 1) return [await queue.add(only.name, only.data as never, only.opts)];
  return await queue.addBulk(jobs.map((job) => ({ name: job.name, data: job.data as never, opts: job.opts })));
}

/**
 * Reads a job a worker picked up: its name must be `name`'s and its payload must match the
 * catalog's schema. A mismatch is a message for an UnrecoverableError (no retry can fix it).
 */
export function readJob<N extends JobName>(
  name: N,
  job: { name: string; data: unknown },
): { ok: true; payload: JobPayloadOf<N> } | { ok: false; message: string } {
  const definition = JOB_CATALOG[name];
  if (job.name !== definition.name) {
    return { ok: false, message: `expected a "${definition.name}" job, got "${job.name}"` };
  }
  const parsed = definition.schema.safeParse(job.data);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "payload"}: ${i.message}`).join("; ");
    return { ok: false, message: `invalid ${definition.name} job payload: ${issues}` };
  }
  return { ok: true, payload: parsed.data as JobPayloadOf<N> };
}

/**
 * How long a run waits before its next attempt after an error of `kind` in attempt
 * `attemptsMade` (1 for the first attempt), ms: transient errors at once, recoverable ones with
 * exponential backoff and full jitter from `baseMs`. Decided once per failure by the processor,
 * which writes it in the `retry_scheduled` event and hands the same number to BullMQ (see
 * `RunError.retryDelayMs`).
 */
export function retryDelayMs(
  attemptsMade: number,
  kind: ErrorKind,
  baseMs: number,
  random: () => number = Math.random,
): number {
  const disposition = dispositionFor(kind);
  if (disposition.action !== "retry" || disposition.delay === "immediate") return 0;
  const ceiling = baseMs * 2 ** Math.max(0, attemptsMade - 1);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

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
