import { buildJob, type Logger, RUNS_QUEUE, reconcilerLeaseKey, runAliveKey } from "@conveyor/core";
import {
  type DbHandle,
  findRunningRuns,
  findStaleUnfinishedRuns,
  findWorkersWithRunningRuns,
  handBackRunOfDeadWorker,
  type RunningRun,
  requeueQueuedRun,
  requeueRun,
} from "@conveyor/db";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { DEFAULT_WORKER_DEAD_AFTER_MS, workerLivenessKey } from "./heartbeat.ts";

/**
 * Closes the gap between Postgres (the truth: a `queued` row is a promise) and Redis (how the
 * promise is delivered), and hands back the runs of workers that died. Each pass:
 *
 * - `queued` for longer than the grace period, and no live job (Redis restarted or was flushed,
 *   the API died between its commit and its enqueue, a job removed by hand): enqueued again (job
 *   id = run id, so a job that reappears meanwhile is not duplicated).
 * - `running` on a worker whose liveness key is gone (silent for WORKER_DEAD_AFTER_MS: SIGKILL, out
 *   of memory, a lost host) or that restarted under the same name since it claimed the run: back
 *   to `queued` at once, fenced by attempt (a worker that was only frozen cannot overwrite the next
 *   attempt when it wakes up), and its job taken from the dead worker's lock back to the queue.
 * - `running` on a live worker, but with no live job and no per-run alive key for twice the lock
 *   duration: it executes nowhere; back to `queued` (fenced) and enqueued.
 *
 * Right after Redis lost its data (restarted, flushed) live workers have not rewritten their keys
 * yet: running runs are judged only once Redis has held its data for the threshold concerned.
 *
 * One reconciler works at a time across all workers: each pass first takes or extends a lease in
 * Redis, by compare-and-set (a Lua script), so two reconcilers never both believe they hold it.
 */
export interface ReconcilerOptions {
  db: DbHandle;
  connection: Redis;
  prefix: string;
  logger: Logger;
  /** This worker's name: the lease holder, and the `worker` of the events it writes. */
  name: string;
  /** Time between passes, ms (RECONCILE_INTERVAL_MS). */
  intervalMs: number;
  /** Queued runs younger than this are left alone, ms (RECONCILE_GRACE_MS). */
  graceMs: number;
  /** Backoff base for the jobs it enqueues, ms (RETRY_BACKOFF_MS). */
  backoffMs: number;
  /** A worker silent this long is presumed dead, ms (WORKER_DEAD_AFTER_MS). Default 20000. */
  deadAfterMs?: number;
  /** WORKER_LOCK_DURATION_MS: per-run alive keys live twice this. Default 30000. */
  lockDurationMs?: number;
  /** Times a run may be taken back from dead workers before it fails (WORKER_MAX_STALLED_COUNT). Default 2. */
  maxTakeovers?: number;
  /** Runs examined per pass. Default 500. */
  batchSize?: number;
  /**
   * Test seam: awaited at named points of a pass (`reconciler.before-requeue`,
   * `reconciler.after-add-before-commit`), so a test
   * can make another process act exactly there. Default: none.
   */
  failpoint?: (name: string) => Promise<void>;
}

/** Longest a re-delivery (remove the ended job, add the new one) may hold a queued run's row lock, ms. */
const REDELIVER_TIMEOUT_MS = 5_000;

async function withTimeout<T>(ms: number, what: string, work: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

const LIVE_JOB_STATES = new Set(["active", "waiting", "waiting-children", "delayed", "prioritized"]);

/** Takes the lease when free, extends it when held by ARGV[1]; 1 when held by ARGV[1] afterwards. */
const ACQUIRE_OR_RENEW = `
local holder = redis.call("GET", KEYS[1])
if holder == false then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call("PEXPIRE", KEYS[1], ARGV[2])
  return 1
end
return 0`;

/** Deletes the lease only when held by ARGV[1]. */
const RELEASE = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`;

/**
 * Redis key holding when Redis got the data it holds (ms, Redis's clock): written once without a
 * TTL by the reconciler, so it is gone — and written again — when Redis restarted empty or was
 * flushed. Running runs are judged only once it is older than the threshold concerned.
 */
export function redisDataSinceKey(prefix: string): string {
  return `${reconcilerLeaseKey(prefix)}:data-since`;
}

/** What became of a job the reconciler meant to (re)deliver. */
export type DeliveryOutcome =
  /** A new job was added. */
  | "added"
  /** Taken from a dead worker's lock back to the queue. */
  | "moved"
  /** A job with this id was already there (the add did nothing). */
  | "exists"
  /** Still held by a lock that is not the dead worker's, or already waiting: left alone. */
  | "left";

let lastAddTimestamp = 0;

/**
 * Adds the BullMQ job of a run, and says whether it really was added: an add whose job id already
 * exists does nothing (BullMQ returns the existing id), which the stored creation time reveals.
 * The one place the reconciler enqueues.
 */
export async function enqueueRunJob(
  queue: Queue,
  connection: Redis,
  run: { id: string; projectId: string; priority: number; maxAttempts: number },
  backoffMs: number,
): Promise<"added" | "exists"> {
  // The job catalog's job, as the API enqueues it.
  const built = buildJob(
    "run",
    { runId: run.id, projectId: run.projectId },
    { priority: run.priority, policy: { attempts: run.maxAttempts, backoffMs } },
  );
  // Unique per process (never two adds in the same millisecond here), so the stored creation time
  // tells our job from one that was already there.
  const timestamp = Math.max(Date.now(), lastAddTimestamp + 1);
  lastAddTimestamp = timestamp;
  const job = await queue.add(built.name, built.data, { ...built.opts, timestamp });
  const stored = await connection.hget(queue.toKey(job.id ?? run.id), "timestamp");
  return stored === String(timestamp) ? "added" : "exists";
}

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
    // Hand the lease over at once rather than after its TTL.
    await this.releaseLease().catch(() => undefined);
    await this.queue.close();
  }

  /**
   * Gives the Redis lease back when this reconciler holds it. The orchestrator's `reconciler` task
   * calls it after each pass: the next pass may be another worker's, which must not find it held.
   */
  async releaseLease(): Promise<void> {
    await this.options.connection.eval(RELEASE, 1, reconcilerLeaseKey(this.options.prefix), this.options.name);
  }

  private get leaseTtlMs(): number {
    return Math.max(this.options.intervalMs * 3, 10_000);
  }

  /** Takes or extends the lease; false when another reconciler holds it. Atomic (one Lua script). */
  async holdLease(): Promise<boolean> {
    const held = await this.options.connection.eval(
      ACQUIRE_OR_RENEW,
      1,
      reconcilerLeaseKey(this.options.prefix),
      this.options.name,
      String(this.leaseTtlMs),
    );
    return held === 1;
  }

  /**
   * One pass; returns the ids whose job it really (re)delivered: added, or taken back from a dead
   * worker. Empty when another worker holds the lease.
   */
  async pass(now: Date = new Date()): Promise<string[]> {
    if (!(await this.holdLease())) return [];
    const delivered: string[] = [];
    const running = await this.handBackDeadWorkersRuns(now, delivered);
    if (running === "lease lost") return delivered;
    await this.reconcileQueuedRuns(now, delivered);
    if (delivered.length)
      this.options.logger.warn({ runs: delivered }, "reconciler re-enqueued runs whose job was lost");
    return delivered;
  }

  private async reconcileQueuedRuns(now: Date, delivered: string[]): Promise<"done" | "lease lost"> {
    const { db, name, graceMs, logger } = this.options;
    const candidates = await findStaleUnfinishedRuns(db.db, {
      queuedBefore: new Date(now.getTime() - graceMs),
      runningBefore: new Date(0),
      limit: this.options.batchSize ?? 500,
    });
    for (const run of candidates) {
      if (run.status !== "queued") continue;
      const state = await this.queue.getJobState(run.id);
      if (LIVE_JOB_STATES.has(state)) continue;
      if (!(await this.holdLease())) return "lease lost";
      await this.options.failpoint?.("reconciler.before-requeue");
      const reason =
        state === "unknown"
          ? "its job was missing from the queue"
          : `its job had ended (${state}) without finishing it`;
      const outcome = await requeueQueuedRun(
        db.db,
        { projectId: run.projectId, runId: run.id, attempt: run.attempt, by: name, reason: `queued, but ${reason}` },
        // The run's row stays locked while Redis answers: bounded, so a Redis that stops answering
        // mid-pass cannot keep a claim or a cancel waiting on that lock.
        () =>
          withTimeout(REDELIVER_TIMEOUT_MS, "re-adding the run's job", async () => {
            const added = (await this.redeliver(run, state)) === "added";
            if (added) await this.options.failpoint?.("reconciler.after-add-before-commit");
            return added;
          }),
      );
      if (outcome === "moved_on") {
        // A worker claimed it meanwhile from a job fetched before the loss, or it was cancelled.
        logger.info({ runId: run.id, jobState: state }, "queued run moved on meanwhile: not re-enqueued");
      }
      if (outcome !== "requeued") continue;
      logger.info({ runId: run.id, jobState: state }, "queued run re-enqueued");
      delivered.push(run.id);
    }
    return "done";
  }

  /**
   * Replaces a run's ended or missing job with a new one. Returns "added" only when a job really
   * was added; a job that could not be removed, or an add that found a job already there, is
   * logged and left for the next pass.
   */
  private async redeliver(
    run: { id: string; projectId: string; priority: number; maxAttempts: number },
    state: string,
  ): Promise<"added" | "exists" | "not removed"> {
    const { logger, backoffMs } = this.options;
    if (state !== "unknown") {
      let removed: number;
      try {
        removed = await this.queue.remove(run.id);
      } catch (error) {
        logger.warn(
          { err: error, runId: run.id, jobState: state },
          "could not remove the run's ended job; retried next pass",
        );
        return "not removed";
      }
      if (removed !== 1) {
        logger.warn(
          { runId: run.id, jobState: state },
          "the run's ended job could not be removed (still locked); retried next pass",
        );
        return "not removed";
      }
    }
    const added = await enqueueRunJob(this.queue, this.options.connection, run, backoffMs);
    if (added === "exists") {
      logger.warn({ runId: run.id, jobState: state }, "a job for the run appeared meanwhile: nothing added");
    }
    return added;
  }

  /** Redis's clock, and for how long Redis has held its data (restarted or flushed: from then). */
  private async redisDataAgeMs(): Promise<number> {
    const { connection, prefix } = this.options;
    const [seconds, micros] = await connection.time();
    const nowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const key = redisDataSinceKey(prefix);
    await connection.set(key, String(nowMs), "NX");
    const since = Number(await connection.get(key));
    const uptime = await redisUptimeMs(connection);
    return Math.min(uptime, Number.isFinite(since) ? nowMs - since : 0);
  }

  private async handBackDeadWorkersRuns(now: Date, delivered: string[]): Promise<"done" | "lease lost"> {
    const { db, connection, prefix, name, logger } = this.options;
    const deadAfterMs = this.options.deadAfterMs ?? DEFAULT_WORKER_DEAD_AFTER_MS;
    const aliveTtlMs = 2 * (this.options.lockDurationMs ?? 30_000);
    const fallbackAfterMs = Math.max(this.options.graceMs, aliveTtlMs);
    const limit = this.options.batchSize ?? 500;
    const workers = await findWorkersWithRunningRuns(db.db);
    if (workers.length === 0) return "done";
    const dataAgeMs = await this.redisDataAgeMs();

    // 1. Runs of workers that are silent, or restarted since they claimed them: handed back at once.
    const values = await connection.mget(...workers.map((worker) => workerLivenessKey(prefix, worker)));
    const incarnations = new Map(workers.map((worker, i) => [worker, values[i] == null ? null : Number(values[i])]));
    if (dataAgeMs >= deadAfterMs) {
      const silentWorkers = workers.filter((worker) => incarnations.get(worker) === null);
      const claimedBefore = workers.flatMap((worker) => {
        const incarnation = incarnations.get(worker);
        return typeof incarnation === "number" ? [{ worker, before: new Date(incarnation) }] : [];
      });
      const candidates = await findRunningRuns(db.db, {
        startedBefore: new Date(now.getTime() - deadAfterMs),
        workers: silentWorkers,
        claimedBefore,
        limit,
      });
      for (const run of candidates) {
        const startedAt = run.startedAt?.getTime() ?? 0;
        const incarnation = incarnations.get(run.worker ?? "") ?? null;
        const silent =
          incarnation === null
            ? `its worker ${run.worker} has been silent for more than ${deadAfterMs} ms`
            : incarnation > startedAt
              ? `its worker ${run.worker} restarted since it claimed the run`
              : null;
        if (silent === null) continue;
        if (!(await this.holdLease())) return "lease lost";
        await this.handBack(run, silent, delivered);
      }
    }

    // 2. Runs of live workers that execute nowhere: their job was lost, and no process refreshes
    // their alive key.
    if (dataAgeMs < aliveTtlMs) return "done";
    const live = workers.filter((worker) => {
      const incarnation = incarnations.get(worker);
      return incarnation !== null && incarnation !== undefined;
    });
    const stale = await findRunningRuns(db.db, {
      startedBefore: new Date(now.getTime() - fallbackAfterMs),
      workers: live,
      limit,
    });
    for (const run of stale) {
      if ((run.startedAt?.getTime() ?? 0) < (incarnations.get(run.worker ?? "") ?? 0)) continue; // handled above
      if ((await connection.exists(runAliveKey(prefix, run.id))) === 1) continue;
      const state = await this.queue.getJobState(run.id);
      if (LIVE_JOB_STATES.has(state)) continue;
      if (!(await this.holdLease())) return "lease lost";
      const reason =
        state === "unknown"
          ? "its job was missing from the queue"
          : `its job had ended (${state}) without finishing it`;
      const taken = await requeueRun(db.db, run.projectId, run.id, run.attempt, {
        type: "requeued",
        worker: name,
        data: { reason: `running, but ${reason} and no worker holds it`, from: "running" },
      });
      if (!taken) continue; // it moved on meanwhile
      const outcome = await this.redeliver(run, state);
      if (outcome === "added") delivered.push(run.id);
      else logger.warn({ runId: run.id, outcome }, "run put back to queued; its job is delivered by a later pass");
    }
    return "done";
  }

  /** Hands a dead worker's run back (fenced by attempt), then its job to the queue. */
  private async handBack(run: RunningRun, reason: string, delivered: string[]): Promise<void> {
    const { db, name, logger } = this.options;
    const deadWorker = run.worker ?? "";
    const outcome = await handBackRunOfDeadWorker(db.db, {
      projectId: run.projectId,
      runId: run.id,
      attempt: run.attempt,
      deadWorker,
      by: name,
      reason,
      maxTakeovers: this.options.maxTakeovers ?? 2,
    });
    if (outcome === "moved_on") return;
    const log = logger.child({ runId: run.id, attempt: run.attempt, deadWorker });
    if (outcome === "gave_up") {
      log.error({ reason }, "run errored: its workers kept dying while running it");
      return;
    }
    const job = await this.takeJobFromDeadWorker(run, deadWorker);
    if (job === "moved" || job === "added") {
      log.warn({ reason, job }, "run of a dead worker handed back to the queue");
      delivered.push(run.id);
    } else {
      // "exists"/"left": a job is already queued or held elsewhere; a job whose lock simply
      // expired is moved by stall detection (WORKER_STALLED_INTERVAL_MS).
      log.warn({ reason, job }, "run of a dead worker back to queued; its job was left where it is");
    }
  }

  /**
   * Makes the run's job deliverable again: an active job processed by the dead worker is moved
   * back to the queue under its lock token (BullMQ checks the token atomically, so a job another
   * worker took meanwhile is not touched); a missing job is added; a waiting one is left.
   */
  private async takeJobFromDeadWorker(run: RunningRun, deadWorker: string): Promise<DeliveryOutcome> {
    const runId = run.id;
    const state = await this.queue.getJobState(runId);
    if (state !== "active") {
      if (LIVE_JOB_STATES.has(state)) return "left";
      const outcome = await this.redeliver(run, state);
      return outcome === "not removed" ? "left" : outcome;
    }
    const client = this.options.connection;
    const jobKey = this.queue.toKey(runId);
    const [processedBy, token] = await Promise.all([client.hget(jobKey, "pb"), client.get(`${jobKey}:lock`)]);
    if (processedBy !== deadWorker || token === null) return "left";
    const job = await this.queue.getJob(runId);
    if (!job) return "left";
    try {
      await job.moveToWait(token);
      // BullMQ puts it in front of its priority level but does not wake idle workers (they block on
      // the queue's marker): add the marker an add would.
      await client.zadd(this.queue.keys.marker ?? this.queue.toKey("marker"), 0, "0");
      return "moved";
    } catch (error) {
      this.options.logger.warn({ err: error, runId }, "could not take the job from the dead worker's lock");
      return "left";
    }
  }
}

async function redisUptimeMs(connection: Redis): Promise<number> {
  const info = await connection.info("server");
  const seconds = /uptime_in_seconds:(\d+)/.exec(info)?.[1];
  return seconds === undefined ? Number.POSITIVE_INFINITY : Number(seconds) * 1000;
}
