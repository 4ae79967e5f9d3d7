// `pnpm start:worker`: one run worker process (production: any number of replicas).
import {
  ConfigError,
  checkRedisEvictionPolicy,
  connectRedis,
  installProcessGuards,
  ShutdownManager,
} from "@conveyor/core";
import { createPostgresDb, migrateAtStart } from "@conveyor/db";
import { parseWorkerEnv } from "../env.ts";
import { composeWorker, createWorkerLogger, workerName, workerShutdownDeadlineMs } from "../service.ts";

async function main(): Promise<void> {
  const env = parseWorkerEnv(process.env);
  if (!env.DATABASE_URL) {
    throw new ConfigError([
      "DATABASE_URL: is required when the worker runs as its own process (postgres://user:pass@host:5432/db)",
    ]);
  }
  const name = workerName(env);
  const logger = createWorkerLogger(env, name);
  installProcessGuards(logger);
  const shutdown = new ShutdownManager(logger, undefined, { deadlineMs: workerShutdownDeadlineMs(env) });
  shutdown.listen();

  const db = await createPostgresDb({
    url: env.DATABASE_URL,
    maxConnections: env.DB_POOL_SIZE,
    applicationName: `conveyor-worker ${name}`,
  });
  await migrateAtStart(db.db, logger);
  const redis = await connectRedis({ url: env.REDIS_URL });
  await checkRedisEvictionPolicy(redis, logger);
  // Registers the "worker" step (drain, hand back, close the browser); connections close after it.
  await composeWorker(env, { db, redis, logger, name, shutdown });
  shutdown.register("redis", async () => {
    await redis.quit();
  });
  shutdown.register("database", () => db.close());
}

main().catch((error: unknown) => {
  console.error(
    error instanceof ConfigError ? error.message : `Conveyor worker failed to start: ${(error as Error).message}`,
  );
  process.exit(1);
});
