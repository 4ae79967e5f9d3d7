import { hostname } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import {
  encodeHeartbeat,
  HEALTH_RULES,
  type Logger,
  type WorkerHeartbeat,
  workerKey,
  workersIndexKey,
} from "@conveyor/core";
import type { Redis } from "ioredis";
import type { WorkerStats } from "./stats.ts";

export interface HeartbeatOptions {
  connection: Redis;
  /** QUEUE_PREFIX. */
  prefix: string;
  /** WORKER_NAME. */
  name: string;
  /** WORKER_CONCURRENCY. */
  concurrency: number;
  /** HEALTH_CHECK_INTERVAL_MS: time between heartbeats, ms. */
  intervalMs: number;
  stats: WorkerStats;
  /** Runs executing now. */
  activeRuns: () => number;
  logger: Logger;
  /**
   * WORKER_DEAD_AFTER_MS: this worker's liveness key ({@link workerLivenessKey}) expires this long
   * after its last refresh, and is refreshed every quarter of it. The reconciler presumes a worker
   * whose key is gone dead and hands its runs back. Default {@link DEFAULT_WORKER_DEAD_AFTER_MS}.
   */
  deadAfterMs?: number;
}

/** Default WORKER_DEAD_AFTER_MS, ms. */
export const DEFAULT_WORKER_DEAD_AFTER_MS = 20_000;

/**
 * Redis key that says a worker process is alive: `<prefix>:workers-alive:<name>`, set with a TTL
 * of WORKER_DEAD_AFTER_MS and refreshed every quarter of it, so it disappears (by Redis's clock,
 * whatever the hosts' clocks say) once the process has been silent that long. Its value is the
 * process's start time (ms since the epoch): a worker restarted under the same name (a container
 * restarted in its pod) is a new incarnation, and the runs the previous one claimed are orphans.
 */
export function workerLivenessKey(prefix: string, name: string): string {
  return `${prefix}:workers-alive:${name}`;
}

/** When this process started, ms since the epoch: its incarnation (see {@link workerLivenessKey}). */
export const PROCESS_STARTED_AT_MS = Math.floor(performance.timeOrigin);

const DELETE_IF_EQUAL = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`;

/**
 * Writes this worker's heartbeat to Redis every interval (see core/workers.ts for the keys and
 * the rules the API applies), and its liveness key ({@link workerLivenessKey}) every quarter of
 * WORKER_DEAD_AFTER_MS, by which the reconciler tells a dead worker from a busy one. Measures
 * event-loop delay between beats: a loop blocked for seconds at a time delays run timeouts, lock
 * renewals, liveness and cancels alike.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private livenessTimer: NodeJS.Timeout | undefined;
  private refreshing: Promise<unknown> | undefined;
  private readonly loopDelay: ReturnType<typeof monitorEventLoopDelay> = monitorEventLoopDelay({ resolution: 20 });
  private readonly startedAt = new Date();
  private writing: Promise<void> | undefined;

  private readonly options: HeartbeatOptions;
  constructor(options: HeartbeatOptions) {
    this.options = options;
  }

  /** Liveness TTL, ms (WORKER_DEAD_AFTER_MS). */
  get deadAfterMs(): number {
    return this.options.deadAfterMs ?? DEFAULT_WORKER_DEAD_AFTER_MS;
  }

  /**
   * Writes the first heartbeat and liveness key now (so the worker is listed once it is ready),
   * then the heartbeat every interval and the liveness key every quarter of WORKER_DEAD_AFTER_MS:
   * a process must stay silent for three refreshes in a row before it is presumed dead.
   */
  async start(): Promise<void> {
    this.loopDelay.enable();
    await this.refreshLiveness();
    this.livenessTimer = setInterval(
      () => {
        if (this.refreshing) return;
        this.refreshing = this.refreshLiveness()
          .catch((error: unknown) => this.options.logger.warn({ err: error }, "could not refresh liveness key"))
          .finally(() => {
            this.refreshing = undefined;
          });
      },
      Math.max(100, Math.floor(this.deadAfterMs / 4)),
    );
    await this.beat();
    this.timer = setInterval(() => {
      // One write at a time: a Redis that answers slowly must not pile up writes.
      if (this.writing) return;
      this.writing = this.beat()
        .catch((error: unknown) => this.options.logger.warn({ err: error }, "could not write heartbeat"))
        .finally(() => {
          this.writing = undefined;
        });
    }, this.options.intervalMs);
  }

  /** The heartbeat as it would be written now. */
  snapshot(): WorkerHeartbeat {
    const { stats } = this.options;
    // Percentiles are in ns; a histogram with no sample yet reports 0.
    const p99 = this.loopDelay.count > 0 ? this.loopDelay.percentile(99) / 1e6 : 0;
    return {
      name: this.options.name,
      host: hostname(),
      pid: process.pid,
      concurrency: this.options.concurrency,
      activeRuns: this.options.activeRuns(),
      processed: stats.processed,
      succeeded: stats.succeeded,
      failed: stats.failed,
      recentFinished: stats.recentFinished,
      recentErrored: stats.recentErrored,
      eventLoopLagP99Ms: Math.round(p99 * 10) / 10,
      lastError: stats.lastError,
      lastErrorAt: stats.lastErrorAt,
      startedAt: this.startedAt,
      heartbeatAt: new Date(),
      intervalMs: this.options.intervalMs,
    };
  }

  private async refreshLiveness(): Promise<void> {
    const { connection, prefix, name } = this.options;
    await connection.set(workerLivenessKey(prefix, name), String(PROCESS_STARTED_AT_MS), "PX", this.deadAfterMs);
  }

  private async beat(): Promise<void> {
    const heartbeat = this.snapshot();
    // Each beat judges its own interval only.
    this.loopDelay.reset();
    const { connection, prefix, name, intervalMs } = this.options;
    const key = workerKey(prefix, name);
    await connection
      .multi()
      .del(key)
      .hset(key, encodeHeartbeat(heartbeat))
      .pexpire(key, intervalMs * HEALTH_RULES.ttlIntervals)
      .zadd(workersIndexKey(prefix), heartbeat.heartbeatAt.getTime(), name)
      .exec();
  }

  /** Stops beating and removes this worker from the list: a worker that left is not "late". */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    clearInterval(this.livenessTimer);
    this.loopDelay.disable();
    // A write stuck on an unreachable Redis must not hold up the shutdown.
    await Promise.race([
      Promise.all([this.writing, this.refreshing]),
      new Promise((resolve) => setTimeout(resolve, 2000).unref()),
    ]);
    const { connection, prefix, name } = this.options;
    // Only this incarnation's key: a successor under the same name may already have written its own.
    await connection.eval(DELETE_IF_EQUAL, 1, workerLivenessKey(prefix, name), String(PROCESS_STARTED_AT_MS));
    await connection.multi().del(workerKey(prefix, name)).zrem(workersIndexKey(prefix), name).exec();
  }
}
