import { z } from "zod";

/**
 * Worker heartbeats: the wire format workers write to Redis and the rules the API applies to
 * judge them. Workers write (packages/worker/src/heartbeat.ts), the API reads
 * (packages/api/src/workers.ts); both agree on the keys and fields here.
 *
 * A worker writes a hash `<prefix>:workers:<name>` every interval, with a TTL of
 * {@link HEALTH_RULES.ttlIntervals} intervals so a dead worker disappears by itself, and scores
 * its name in the sorted set `<prefix>:workers` (score: time of the last heartbeat, ms) so the API
 * can list workers without SCAN. A graceful stop deletes both.
 */

export const WORKER_HEALTH_STATUSES = ["healthy", "degraded", "unhealthy"] as const;
export type WorkerHealthStatus = (typeof WORKER_HEALTH_STATUSES)[number];

/** The thresholds behind {@link classifyWorker}; docs/operations.md ("Health") states them. */
export const HEALTH_RULES = {
  /** A heartbeat older than this many of the worker's intervals: unhealthy (frozen, dead, cut off). */
  lateAfterIntervals: 3,
  /** TTL of a heartbeat, in intervals: a worker that stopped beating is listed (unhealthy) until then. */
  ttlIntervals: 10,
  /** Attempts remembered for the failure-rate rule: the last 20 this worker finished. */
  recentWindow: 20,
  /**
   * Fewer finished attempts than this in the window and the failure-rate rule does not apply:
   * one broken browser on a fresh worker is not yet a pattern.
   */
  minRecentForFailureRate: 5,
  /** Share of the window ending in an infrastructure error above which the worker is degraded. */
  failureRateThreshold: 0.5,
  /** Event-loop delay p99 over the last interval above which the worker is degraded, ms. */
  eventLoopLagP99Ms: 1000,
} as const;

/** What a worker reports about itself every interval. */
export interface WorkerHeartbeat {
  name: string;
  host: string;
  pid: number;
  /** WORKER_CONCURRENCY. */
  concurrency: number;
  /** Runs executing now. */
  activeRuns: number;
  /** Attempts finished here since start: a terminal status, or an infrastructure error that was retried. */
  processed: number;
  /** Of those, attempts that reached a verdict: passed, failed (a failing test is a normal outcome) or cancelled. */
  succeeded: number;
  /** Of those, attempts that ended in an error: run `errored`, or an infrastructure error that was retried. */
  failed: number;
  /** Attempts in the recent window (at most {@link HEALTH_RULES.recentWindow}). */
  recentFinished: number;
  /** Attempts in the recent window that ended in an infrastructure error (kind transient or recoverable). */
  recentErrored: number;
  /** Event-loop delay p99 over the last interval, ms. */
  eventLoopLagP99Ms: number;
  /** Message of the last error, if any. */
  lastError?: string | undefined;
  lastErrorAt?: Date | undefined;
  startedAt: Date;
  /** When this heartbeat was written. */
  heartbeatAt: Date;
  /** The worker's HEALTH_CHECK_INTERVAL_MS: lateness is judged against the worker's own interval. */
  intervalMs: number;
}

/** A heartbeat with the verdict of {@link classifyWorker}. */
export interface WorkerHealth extends WorkerHeartbeat {
  status: WorkerHealthStatus;
  /** Why it is not healthy; empty when healthy. */
  reasons: string[];
  /** Age of the last heartbeat, ms. */
  heartbeatAgeMs: number;
}

/** Hash of one worker's heartbeat. */
export function workerKey(prefix: string, name: string): string {
  return `${prefix}:workers:${name}`;
}

/** Sorted set of worker names, scored by the time of their last heartbeat (ms). */
export function workersIndexKey(prefix: string): string {
  return `${prefix}:workers`;
}

/** Flattens a heartbeat into hash fields (Redis stores strings). */
export function encodeHeartbeat(heartbeat: WorkerHeartbeat): Record<string, string> {
  const fields: Record<string, string> = {
    name: heartbeat.name,
    host: heartbeat.host,
    pid: String(heartbeat.pid),
    concurrency: String(heartbeat.concurrency),
    activeRuns: String(heartbeat.activeRuns),
    processed: String(heartbeat.processed),
    succeeded: String(heartbeat.succeeded),
    failed: String(heartbeat.failed),
    recentFinished: String(heartbeat.recentFinished),
    recentErrored: String(heartbeat.recentErrored),
    eventLoopLagP99Ms: String(heartbeat.eventLoopLagP99Ms),
    startedAt: heartbeat.startedAt.toISOString(),
    heartbeatAt: heartbeat.heartbeatAt.toISOString(),
    intervalMs: String(heartbeat.intervalMs),
  };
  if (heartbeat.lastError !== undefined) fields.lastError = heartbeat.lastError;
  if (heartbeat.lastErrorAt !== undefined) fields.lastErrorAt = heartbeat.lastErrorAt.toISOString();
  return fields;
}

const count = z.coerce.number().int().min(0);
const heartbeatFieldsSchema = z.object({
  name: z.string().min(1),
  host: z.string(),
  pid: count,
  concurrency: count,
  activeRuns: count,
  processed: count,
  succeeded: count,
  failed: count,
  recentFinished: count,
  recentErrored: count,
  eventLoopLagP99Ms: z.coerce.number().min(0),
  lastError: z.string().optional(),
  lastErrorAt: z.coerce.date().optional(),
  startedAt: z.coerce.date(),
  heartbeatAt: z.coerce.date(),
  intervalMs: z.coerce.number().int().positive(),
});

/** Reads hash fields back; undefined for a hash that is missing or written by an incompatible release. */
export function decodeHeartbeat(fields: Record<string, string>): WorkerHeartbeat | undefined {
  const parsed = heartbeatFieldsSchema.safeParse(fields);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Judges one worker. Rules, most severe first:
 * - unhealthy: its last heartbeat is older than {@link HEALTH_RULES.lateAfterIntervals} × its
 *   interval (the process died, froze, or lost Redis);
 * - degraded: more than half of its last (up to 20, at least 5) finished attempts ended in an
 *   infrastructure error, or its event-loop delay p99 over the last interval exceeded 1 s;
 * - healthy otherwise.
 */
export function classifyWorker(heartbeat: WorkerHeartbeat, now: Date): WorkerHealth {
  const heartbeatAgeMs = Math.max(0, now.getTime() - heartbeat.heartbeatAt.getTime());
  const reasons: string[] = [];
  let status: WorkerHealthStatus = "healthy";
  const lateAfterMs = heartbeat.intervalMs * HEALTH_RULES.lateAfterIntervals;
  if (heartbeatAgeMs > lateAfterMs) {
    status = "unhealthy";
    reasons.push(`no heartbeat for ${heartbeatAgeMs} ms (more than ${lateAfterMs} ms)`);
  }
  if (
    heartbeat.recentFinished >= HEALTH_RULES.minRecentForFailureRate &&
    heartbeat.recentErrored / heartbeat.recentFinished > HEALTH_RULES.failureRateThreshold
  ) {
    if (status === "healthy") status = "degraded";
    reasons.push(
      `${heartbeat.recentErrored} of its last ${heartbeat.recentFinished} attempts ended in an infrastructure error`,
    );
  }
  if (heartbeat.eventLoopLagP99Ms > HEALTH_RULES.eventLoopLagP99Ms) {
    if (status === "healthy") status = "degraded";
    reasons.push(`event-loop delay p99 ${Math.round(heartbeat.eventLoopLagP99Ms)} ms`);
  }
  return { ...heartbeat, status, reasons, heartbeatAgeMs };
}

/** Overall verdict of `GET /api/health/detailed`. */
export type OverallHealthStatus = WorkerHealthStatus;

/**
 * Judges the installation:
 * - unhealthy: Postgres or Redis does not answer (nothing can be accepted or delivered);
 * - degraded: a listed worker is degraded or unhealthy, or runs are waiting (backlog > 0) and no
 *   healthy worker is there to take them;
 * - healthy otherwise. No workers and no backlog is healthy: a fleet scaled to zero is idle, not broken.
 */
export function classifyInstallation(input: {
  database: "up" | "down";
  redis: "up" | "down";
  /** Runs due to start now (conveyor_queue_backlog); undefined when Redis could not be read. */
  backlog: number | undefined;
  workers: Pick<WorkerHealth, "name" | "status">[];
  /** The service tasks that are disabled (after repeated failures, or by hand), with why. */
  disabledTasks?: { name: string; reason: string | null }[];
}): { status: OverallHealthStatus; reasons: string[] } {
  const reasons: string[] = [];
  if (input.database === "down") reasons.push("the database does not answer");
  if (input.redis === "down") reasons.push("Redis does not answer");
  if (reasons.length > 0) return { status: "unhealthy", reasons };
  for (const worker of input.workers) {
    if (worker.status !== "healthy") reasons.push(`worker ${worker.name} is ${worker.status}`);
  }
  const healthy = input.workers.filter((worker) => worker.status === "healthy").length;
  if (healthy === 0 && (input.backlog ?? 0) > 0) {
    reasons.push(`${input.backlog} run(s) waiting and no healthy worker`);
  }
  for (const task of input.disabledTasks ?? []) {
    reasons.push(`service task ${task.name} is disabled${task.reason ? `: ${task.reason}` : ""}`);
  }
  return { status: reasons.length > 0 ? "degraded" : "healthy", reasons };
}
