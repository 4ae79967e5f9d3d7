/**
 * The workers' side of schedules: a BullMQ Job Scheduler (`schedule-tick`, every `tickMs`) is the
 * clock; each tick job, taken by whichever worker is free, runs {@link processDueSchedules}
 * against Postgres, which decides everything (what is due, what is missed, overlap, pauses) and
 * logs each scheduled time once. The runs it started are then enqueued like any other; a lost
 * enqueue is the reconciler's.
 *
 * Every worker upserts the job scheduler at start and again every `healEveryMs`, so a Redis flush
 * (or a deleted scheduler) heals itself; upserting an unchanged scheduler changes nothing.
 */
import { buildJob, cancelChannel, enqueueBuilt, type Logger, RUNS_QUEUE } from "@conveyor/core";
import { type DbHandle, processDueSchedules, type TickResult } from "@conveyor/db";
import { Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";

/** The BullMQ queue of the schedules' clock. */
export const SCHEDULES_QUEUE = "schedules";
/** The one job scheduler (and its jobs' name). */
export const SCHEDULE_TICK = "schedule-tick";

export interface SchedulerOptions {
  db: DbHandle;
  connection: Redis;
  /** QUEUE_PREFIX. */
  prefix: string;
  logger: Logger;
  /** How often the tick runs, ms (SCHEDULE_TICK_MS); 0 disables this worker's part in it. */
  tickMs: number;
  /** How late a scheduled time may be acted on beyond its catch-up window, ms (SCHEDULE_TOLERANCE_MS). */
  toleranceMs: number;
  /** Retry backoff of the jobs of the runs it starts (RETRY_BACKOFF_MS). */
  backoffMs: number;
  /**
   * How often the job scheduler is upserted again, ms; 0: never here (the orchestrator's
   * `schedule-clock` task does it once for the fleet). Default 30000.
   */
  healEveryMs?: number;
  /** The tick's clock. Default: the system clock (tests pass their own). */
  now?: () => Date;
}

export class Scheduler {
  private readonly options: SchedulerOptions;
  private readonly queue: Queue;
  private readonly runsQueue: Queue;
  private worker: Worker | undefined;
  private healTimer: NodeJS.Timeout | undefined;

  constructor(options: SchedulerOptions) {
    this.options = options;
    this.queue = new Queue(SCHEDULES_QUEUE, { connection: options.connection, prefix: options.prefix });
    this.runsQueue = new Queue(RUNS_QUEUE, { connection: options.connection, prefix: options.prefix });
  }

  async start(): Promise<void> {
    if (this.options.tickMs <= 0) return;
    await this.heal();
    const healEveryMs = this.options.healEveryMs ?? 30_000;
    if (healEveryMs > 0) {
      this.healTimer = setInterval(() => {
        this.heal().catch((error: unknown) =>
          this.options.logger.warn({ err: error }, "could not upsert the schedule tick's job scheduler"),
        );
      }, healEveryMs);
      this.healTimer.unref();
    }
    // Ticks may pile up while none is taken (every worker busy): the tick reads Postgres, so an
    // old one does the same as a new one, and overlapping ticks split the schedules between them.
    this.worker = new Worker(SCHEDULES_QUEUE, async () => this.tick(), {
      // BullMQ duplicates it for its blocking reads.
      connection: this.options.connection,
      prefix: this.options.prefix,
      concurrency: 1,
      removeOnComplete: { count: 10 },
      removeOnFail: { count: 100 },
    });
    this.worker.on("error", (error) => this.options.logger.warn({ err: error }, "schedule tick worker error"));
  }

  /** Upserts the job scheduler (idempotent): what heals a Redis flush. */
  async heal(): Promise<void> {
    await this.queue.upsertJobScheduler(
      SCHEDULE_TICK,
      { every: this.options.tickMs },
      { name: SCHEDULE_TICK, opts: { removeOnComplete: true, removeOnFail: 100 } },
    );
  }

  /** One tick: due scheduled times acted on, their runs enqueued, cancels published. */
  async tick(): Promise<TickResult> {
    const now = this.options.now?.() ?? new Date();
    const result = await processDueSchedules(this.options.db.db, now, { toleranceMs: this.options.toleranceMs });
    if (result.enqueue.length > 0) {
      const jobs = result.enqueue.map((run) =>
        buildJob(
          "run",
          { runId: run.id, projectId: run.projectId },
          { priority: run.priority, policy: { attempts: run.maxAttempts, backoffMs: this.options.backoffMs } },
        ),
      );
      await enqueueBuilt(this.runsQueue, jobs).catch((error: unknown) =>
        this.options.logger.warn({ err: error }, "enqueue of scheduled runs failed; the reconciler will enqueue them"),
      );
    }
    for (const runId of result.withdraw) await this.runsQueue.remove(runId).catch(() => 0);
    for (const runId of result.stop) await this.options.connection.publish(cancelChannel(this.options.prefix), runId);
    for (const fire of result.fires) {
      this.options.logger.info(
        {
          scheduleId: fire.scheduleId,
          scheduledAt: fire.scheduledAt.toISOString(),
          outcome: fire.outcome,
          runId: fire.runId,
          suiteRunId: fire.suiteRunId,
          reason: fire.reason,
        },
        "schedule fired",
      );
    }
    for (const paused of result.paused) this.options.logger.warn(paused, "schedule paused after failed runs");
    return result;
  }

  async stop(): Promise<void> {
    clearInterval(this.healTimer);
    await this.worker?.close();
    await this.queue.close();
    await this.runsQueue.close();
  }
}
