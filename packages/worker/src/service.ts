import { type Logger, parseSecretsKey } from "@conveyor/core";
import type { DbHandle } from "@conveyor/db";
import { BrowserPool, createArtifactStore, describeArtifactStore, resolveChromium } from "@conveyor/runner";
import type { Redis } from "ioredis";
import { ArtifactSweeper } from "./artifact-sweeper.ts";
import type { WorkerEnv } from "./env.ts";
import { Heartbeat } from "./heartbeat.ts";
import { startMetricsServer, WorkerMetrics } from "./metrics.ts";
import { Reconciler } from "./reconciler.ts";
import { RunWorker } from "./run-worker.ts";
import { combineObservers, type RunObserver, WorkerStats } from "./stats.ts";

export interface WorkerService {
  runWorker: RunWorker;
  pool: BrowserPool;
  heartbeat: Heartbeat;
  /** URL of this worker's `GET /metrics`, when WORKER_METRICS_PORT is set. */
  metricsUrl: string | undefined;
  /** Drains (see {@link RunWorker.drain}) then closes the browser. */
  close(): Promise<void>;
}

/** Starts a run worker on already-open connections (the caller owns and closes them). */
export async function startWorker(
  env: WorkerEnv,
  deps: { db: DbHandle; redis: Redis; logger: Logger; name: string },
): Promise<WorkerService> {
  const chromium = resolveChromium(env.CHROMIUM_PATH ? { chromiumPath: env.CHROMIUM_PATH } : {});
  deps.logger.info({ chromium: chromium.path, source: chromium.source }, "using Chromium");
  const pool = new BrowserPool({
    executablePath: chromium.path,
    logger: deps.logger,
    prepareNextPage: env.WORKER_PREPARE_NEXT_PAGE,
  });
  await pool.warm();
  const artifacts = createArtifactStore(env);
  deps.logger.info(describeArtifactStore(env), "artifact store");
  const stats = new WorkerStats();
  const metrics = env.WORKER_METRICS_PORT === undefined ? undefined : new WorkerMetrics();
  const observers: RunObserver[] = metrics ? [stats, metrics] : [stats];
  const runWorker = new RunWorker({
    db: deps.db,
    connection: deps.redis,
    prefix: env.QUEUE_PREFIX,
    pool,
    artifacts,
    logger: deps.logger,
    name: deps.name,
    concurrency: env.WORKER_CONCURRENCY,
    lockDurationMs: env.WORKER_LOCK_DURATION_MS,
    stalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
    maxStalledCount: env.WORKER_MAX_STALLED_COUNT,
    secretsKey: env.SECRETS_KEY ? parseSecretsKey(env.SECRETS_KEY) : undefined,
    observer: combineObservers(observers),
  });
  await runWorker.start();
  const reconciler = new Reconciler({
    db: deps.db,
    connection: deps.redis,
    prefix: env.QUEUE_PREFIX,
    logger: deps.logger,
    name: deps.name,
    intervalMs: env.RECONCILE_INTERVAL_MS,
    graceMs: env.RECONCILE_GRACE_MS,
    backoffMs: env.RETRY_BACKOFF_MS,
  });
  reconciler.start();
  const sweeper = new ArtifactSweeper({
    store: artifacts,
    connection: deps.redis,
    prefix: env.QUEUE_PREFIX,
    logger: deps.logger,
    name: deps.name,
    retentionDays: env.ARTIFACT_RETENTION_DAYS,
  });
  sweeper.start();
  await runWorker.worker.waitUntilReady();
  const metricsServer =
    metrics && env.WORKER_METRICS_PORT !== undefined
      ? await startMetricsServer({
          registry: metrics.registry,
          port: env.WORKER_METRICS_PORT,
          token: env.METRICS_TOKEN,
          logger: deps.logger,
        })
      : undefined;
  const heartbeat = new Heartbeat({
    connection: deps.redis,
    prefix: env.QUEUE_PREFIX,
    name: deps.name,
    concurrency: env.WORKER_CONCURRENCY,
    intervalMs: env.HEALTH_CHECK_INTERVAL_MS,
    stats,
    activeRuns: () => runWorker.activeRuns,
    logger: deps.logger,
  });
  await heartbeat.start();
  deps.logger.info({ concurrency: env.WORKER_CONCURRENCY }, "worker ready");
  return {
    runWorker,
    pool,
    heartbeat,
    metricsUrl: metricsServer?.url,
    close: async () => {
      await reconciler.stop();
      await sweeper.stop();
      await runWorker.drain(env.SHUTDOWN_TIMEOUT_MS);
      await pool.close();
      // Last, so a draining worker stays listed with its active runs until it is gone.
      await heartbeat.stop();
      await metricsServer?.close();
    },
  };
}
