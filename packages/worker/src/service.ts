import { type Logger, parseSecretsKey } from "@conveyor/core";
import type { DbHandle } from "@conveyor/db";
import { BrowserPool, LocalArtifactStore, resolveChromium } from "@conveyor/runner";
import type { Redis } from "ioredis";
import type { WorkerEnv } from "./env.ts";
import { Reconciler } from "./reconciler.ts";
import { RunWorker } from "./run-worker.ts";

export interface WorkerService {
  runWorker: RunWorker;
  pool: BrowserPool;
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
  const pool = new BrowserPool({ executablePath: chromium.path, logger: deps.logger });
  await pool.warm();
  const runWorker = new RunWorker({
    db: deps.db,
    connection: deps.redis,
    prefix: env.QUEUE_PREFIX,
    pool,
    artifacts: new LocalArtifactStore(env.ARTIFACT_DIR),
    logger: deps.logger,
    name: deps.name,
    concurrency: env.WORKER_CONCURRENCY,
    lockDurationMs: env.WORKER_LOCK_DURATION_MS,
    stalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
    maxStalledCount: env.WORKER_MAX_STALLED_COUNT,
    secretsKey: env.SECRETS_KEY ? parseSecretsKey(env.SECRETS_KEY) : undefined,
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
  await runWorker.worker.waitUntilReady();
  deps.logger.info({ concurrency: env.WORKER_CONCURRENCY }, "worker ready");
  return {
    runWorker,
    pool,
    close: async () => {
      await reconciler.stop();
      await runWorker.drain(env.SHUTDOWN_TIMEOUT_MS);
      await pool.close();
    },
  };
}
