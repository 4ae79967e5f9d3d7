import type { ArtifactStore } from "@conveyor/artifacts";
import {
  buildJob,
  cancelChannel,
  type EgressPolicy,
  enqueueBuilt,
  jobIdForRun,
  type Logger,
  RUNS_QUEUE,
  readJob,
  retryDelayMs,
  runAliveKey,
  toRunError,
} from "@conveyor/core";
import { type DbHandle, failUnfinishedRun, noSuiteEffects, type SuiteEffects } from "@conveyor/db";
import type { BrowserPool } from "@conveyor/runner";
import { type MinimalJob, Queue, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { type AbortReason, applySuiteEffects, backoffBaseMs, createRunProcessor } from "./processor.ts";
import type { RunObserver } from "./stats.ts";

export interface RunWorkerOptions {
  db: DbHandle;
  /** ioredis connection with `maxRetriesPerRequest: null` (BullMQ's requirement for workers). */
  connection: Redis;
  /** Redis key prefix (QUEUE_PREFIX). */
  prefix: string;
  pool: BrowserPool;
  artifacts: ArtifactStore;
  /** The operator's egress policy (EGRESS_*); each run adds its project's allowlist. */
  egressPolicy: EgressPolicy;
  logger: Logger;
  name: string;
  /** Runs at once. */
  concurrency: number;
  /** Job lock duration, ms. */
  lockDurationMs: number;
  /** Stalled-job check interval, ms. */
  stalledIntervalMs: number;
  /** Recoveries from dead holders before a job fails. */
  maxStalledCount: number;
  /** SECRETS_KEY, parsed; undefined when unset. */
  secretsKey: Buffer | undefined;
  /** Told how each attempt and action ended (heartbeat counters, metrics). Default: nobody. */
  observer?: RunObserver | undefined;
  /** PROJECT_MAX_CONCURRENT_RUNS (0: no limit). Default 0. */
  defaultMaxConcurrentRuns?: number;
}

/**
 * The queue's backoff strategy for run jobs: the delay the processor decided and wrote into the
 * run's `retry_scheduled` event (RunError.retryDelayMs). An error that did not come through the
 * processor's classification (none should) is classified the same way here.
 */
export function runBackoffStrategy(
  attemptsMade: number,
  error: Error | undefined,
  job: MinimalJob | undefined,
): number {
  const runError = toRunError(error);
  return runError.retryDelayMs ?? retryDelayMs(attemptsMade, runError.kind, backoffBaseMs(job));
}

/** The BullMQ worker on the runs queue, with the bookkeeping shutdown needs. */
export class RunWorker {
  readonly worker: Worker;
  private readonly active = new Map<string, AbortController>();
  /** Adds the jobs of a suite run's released runs and removes those failFast cancelled (made on first use). */
  private runsQueue: Queue | undefined;

  private readonly options: RunWorkerOptions;
  constructor(options: RunWorkerOptions) {
    this.options = options;
    const processor = createRunProcessor({
      db: options.db,
      pool: options.pool,
      artifacts: options.artifacts,
      egressPolicy: options.egressPolicy,
      logger: options.logger,
      workerName: options.name,
      active: this.active,
      secretsKey: options.secretsKey,
      observer: options.observer,
      defaultMaxConcurrentRuns: options.defaultMaxConcurrentRuns ?? 0,
      applySuiteEffects: (effects, backoffMs) => this.applySuiteEffects(effects, backoffMs),
    });
    this.worker = new Worker(RUNS_QUEUE, processor, {
      connection: options.connection,
      prefix: options.prefix,
      name: options.name,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      maxStalledCount: options.maxStalledCount,
      autorun: false,
      settings: {
        // Jobs carry the API's RETRY_BACKOFF_MS as their backoff delay; the kind of error decides.
        backoffStrategy: (attemptsMade: number, _type?: string, error?: Error, job?: MinimalJob) =>
          runBackoffStrategy(attemptsMade, error, job),
      },
    });
    this.worker.on("error", (error) => options.logger.error({ err: error }, "queue worker error"));
    this.worker.on("stalled", (jobId) => options.logger.warn({ jobId }, "job stalled (its worker died); requeued"));
    this.worker.on("failed", (job, error) => {
      // Emitted for every failed attempt, retried or not. Only a job the queue gave up on (stall
      // limit, retries exhausted outside the processor) leaves a run to close here.
      if (!job) return;
      const parsed = readJob("run", job);
      if (!parsed.ok) return;
      void (async () => {
        if ((await job.getState()) !== "failed") return;
        const effects = noSuiteEffects();
        await failUnfinishedRun(
          options.db.db,
          parsed.payload.projectId,
          parsed.payload.runId,
          { kind: "transient", message: `the queue gave up on this run: ${error.message}` },
          options.name,
          { deadLetter: true, effects },
        );
        await applySuiteEffects(
          { applySuiteEffects: (e, backoffMs) => this.applySuiteEffects(e, backoffMs), logger: options.logger },
          effects,
          backoffBaseMs(job),
        );
      })().catch((err: unknown) =>
        options.logger.error({ err, runId: parsed.payload.runId }, "could not mark run errored"),
      );
    });
  }

  private subscriber: Redis | undefined;
  private aliveTimer: NodeJS.Timeout | undefined;

  /**
   * After a suite run's child ended: its released siblings' jobs added (as the API adds a run's:
   * job id = run id, so the reconciler's add of the same run is a no-op), its failFast-cancelled
   * siblings' jobs removed (a job a worker already took is skipped at claim: the run is cancelled).
   */
  private async applySuiteEffects(effects: SuiteEffects, backoffMs: number): Promise<void> {
    this.runsQueue ??= new Queue(RUNS_QUEUE, { connection: this.options.connection, prefix: this.options.prefix });
    const queue = this.runsQueue;
    for (const runId of effects.withdraw) await queue.remove(jobIdForRun(runId));
    if (effects.release.length === 0) return;
    const jobs = effects.release.map((run) =>
      buildJob(
        "run",
        { runId: run.id, projectId: run.projectId },
        { priority: run.priority, policy: { attempts: run.maxAttempts, backoffMs } },
      ),
    );
    await enqueueBuilt(queue, jobs);
    this.options.logger.info(
      { runs: effects.release.map((run) => run.id), suiteRunId: effects.release[0]?.suiteRunId },
      "suite run's held runs released and enqueued",
    );
  }

  /** Rewrites the alive key of every run executing here (see runAliveKey). */
  private async refreshAlive(): Promise<void> {
    if (this.active.size === 0) return;
    const ttl = this.options.lockDurationMs * 2;
    const pipeline = this.options.connection.pipeline();
    for (const runId of this.active.keys())
      pipeline.set(runAliveKey(this.options.prefix, runId), this.options.name, "PX", ttl);
    await pipeline.exec();
  }

  /** Starts taking jobs and listening for cancel requests. */
  async start(): Promise<void> {
    this.subscriber = this.options.connection.duplicate();
    this.subscriber.on("error", (error) => this.options.logger.warn({ err: error }, "cancel subscription error"));
    this.subscriber.on("message", (_channel: string, runId: string) => this.cancel(runId));
    await this.subscriber.subscribe(cancelChannel(this.options.prefix));
    this.aliveTimer = setInterval(
      () => {
        this.refreshAlive().catch((error: unknown) =>
          this.options.logger.warn({ err: error }, "could not refresh alive keys"),
        );
      },
      Math.max(500, Math.floor(this.options.lockDurationMs / 3)),
    );
    void this.worker.run();
  }

  /** Aborts a run this process executes; false when it is not here. */
  cancel(runId: string): boolean {
    const controller = this.active.get(runId);
    if (!controller) return false;
    this.options.logger.info({ runId }, "cancel requested: aborting the run");
    controller.abort({ type: "cancel", message: "Cancelled by request" } satisfies AbortReason);
    return true;
  }

  get activeRuns(): number {
    return this.active.size;
  }

  /**
   * Stops taking jobs and lets active runs finish for up to `timeoutMs`; then aborts the rest,
   * which hand their runs back to the queue. Resolves once no job is active.
   */
  async drain(timeoutMs: number): Promise<void> {
    const closing = this.worker.close();
    const timer = setTimeout(() => {
      if (this.active.size === 0) return;
      this.options.logger.warn(
        { activeRuns: this.active.size, timeoutMs },
        "shutdown timeout: handing active runs back",
      );
      for (const controller of this.active.values()) controller.abort({ type: "shutdown" } satisfies AbortReason);
    }, timeoutMs);
    try {
      await closing;
    } finally {
      clearTimeout(timer);
      clearInterval(this.aliveTimer);
      this.subscriber?.disconnect();
      await this.runsQueue?.close().catch(() => undefined);
    }
  }
}
