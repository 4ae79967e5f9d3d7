import {
  type Logger,
  RUNS_QUEUE,
  reconcilerLeaseKey,
  runAliveKey,
  runJobOptions,
  runJobPayloadSchema,
} from "@conveyor/core";
import { appendRunEvent, type DbHandle, findStaleUnfinishedRuns, requeueRun } from "@conveyor/db";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";

/**
 * Closes the gap between Postgres (the truth: a `queued` row is a promise) and Redis (how the
 * promise is delivered). Finds runs whose BullMQ job was lost — Redis restarted empty, the API
 * died between its commit and its enqueue, a job removed by hand — and enqueues them again:
 *
 * - `queued` for longer than the grace period, and no live job: enqueued again (job id = run id,
 *   so a job that reappears meanwhile is not duplicated).
 * - `running` for longer than the grace period, no live job and no worker refreshing its alive
 *   key: its worker is gone with the job; back to `queued` (fenced by attempt) and enqueued.
 *
 * One reconciler works at a time across all workers: each pass first takes a lease in Redis.
 */
export interface ReconcilerOptions {
  db: DbHandle;
  connection: Redis;
  prefix: string;
  logger: Logger;
  /** This worker's name: the lease holder, and the `worker` of the events it writes. */
  name: string;
  /** Time between passes, ms. */
  intervalMs: number;
  /** Runs younger than this are left alone, ms. */
  graceMs: number;
  /** Backoff base for the jobs it enqueues, ms (RETRY_BACKOFF_MS). */
  backoffMs: number;
  /** Runs examined per pass. Default 500. */
  batchSize?: number;
}

const LIVE_JOB_STATES = new Set(["active", "waiting", "waiting-children", "delayed", "prioritized"]);

export class Reconciler {
  private readonly queue: Queue;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;

  private readonly options: ReconcilerOptions;
  constructor(options: ReconcilerOptions) {
    this.options = options;
    this.queue = new Queue(RUNS_QUEUE, { connection: options.connection, prefix: options.prefix });
  }

  start(): void {
    if (this.options.intervalMs <= 0) return;
    const tick = () => {
      if (this.stopped) return;
      this.running = this.pass()
        .catch((error: unknown) => this.options.logger.warn({ err: error }, "reconciliation pass failed"))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.timer = setTimeout(tick, this.options.intervalMs);
        });
    };
    this.timer = setTimeout(tick, this.options.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.queue.close();
  }

  /** One pass; returns the ids it re-enqueued (empty when another worker holds the lease). */
  async pass(now: Date = new Date()): Promise<string[]> {
    const { connection, prefix, name, intervalMs, graceMs, db, logger } = this.options;
    const lease = reconcilerLeaseKey(prefix);
    const ttl = Math.max(intervalMs * 3, 10_000);
    const acquired = await connection.set(lease, name, "PX", ttl, "NX");
    if (acquired !== "OK") {
      if ((await connection.get(lease)) !== name) return [];
      await connection.pexpire(lease, ttl);
    }

    const threshold = new Date(now.getTime() - graceMs);
    const candidates = await findStaleUnfinishedRuns(db.db, {
      queuedBefore: threshold,
      runningBefore: threshold,
      limit: this.options.batchSize ?? 500,
    });
    // Right after Redis restarted empty, live workers have not rewritten their alive keys yet:
    // judge running runs only once Redis has been up for the whole grace period.
    const judgeRunning = (await redisUptimeMs(connection)) >= graceMs;
    const requeued: string[] = [];
    for (const run of candidates) {
      if (run.status === "running" && !judgeRunning) continue;
      const state = await this.queue.getJobState(run.id);
      if (LIVE_JOB_STATES.has(state)) continue;
      if (run.status === "running" && (await connection.exists(runAliveKey(prefix, run.id))) === 1) continue;

      const reason =
        state === "unknown"
          ? "its job was missing from the queue"
          : `its job had ended (${state}) without finishing it`;
      if (run.status === "running") {
        const taken = await requeueRun(db.db, run.projectId, run.id, run.attempt, {
          type: "requeued",
          worker: name,
          data: { reason: `running, but ${reason} and no worker holds it`, from: "running" },
        });
        if (!taken) continue; // it moved on meanwhile
      } else {
        await appendRunEvent(db.db, run.projectId, run.id, "requeued", {
          attempt: run.attempt,
          worker: name,
          data: { reason: `queued, but ${reason}`, from: "queued" },
        });
      }
      if (state !== "unknown") await this.queue.remove(run.id).catch(() => 0);
      const payload = runJobPayloadSchema.parse({ runId: run.id, projectId: run.projectId });
      await this.queue.add(
        "run",
        payload,
        runJobOptions(run.id, run.priority, { attempts: run.maxAttempts, backoffMs: this.options.backoffMs }),
      );
      requeued.push(run.id);
    }
    if (requeued.length) logger.warn({ runs: requeued }, "reconciler re-enqueued runs whose job was lost");
    return requeued;
  }
}

async function redisUptimeMs(connection: Redis): Promise<number> {
  const info = await connection.info("server");
  const seconds = /uptime_in_seconds:(\d+)/.exec(info)?.[1];
  return seconds === undefined ? Number.POSITIVE_INFINITY : Number(seconds) * 1000;
}
