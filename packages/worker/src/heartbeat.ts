import { hostname } from "node:os";
import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
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
}

/**
 * Writes this worker's heartbeat to Redis every interval (see core/workers.ts for the keys and
 * the rules the API applies). Measures event-loop delay between beats: a loop blocked for
 * seconds at a time delays run timeouts, lock renewals and cancels alike.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private readonly loopDelay: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  private readonly startedAt = new Date();
  private writing: Promise<void> | undefined;

  private readonly options: HeartbeatOptions;
  constructor(options: HeartbeatOptions) {
    this.options = options;
  }

  /** Writes the first heartbeat now (so the worker is listed once it is ready), then every interval. */
  async start(): Promise<void> {
    this.loopDelay.enable();
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
    this.loopDelay.disable();
    // A write stuck on an unreachable Redis must not hold up the shutdown.
    await Promise.race([this.writing, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    const { connection, prefix, name } = this.options;
    await connection.multi().del(workerKey(prefix, name)).zrem(workersIndexKey(prefix), name).exec();
  }
}
