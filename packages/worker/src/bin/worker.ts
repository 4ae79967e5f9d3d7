// `pnpm start:worker`: one run worker process (production: any number of replicas).
import {
  ConfigError,
  checkRedisEvictionPolicy,
  connectRedis,
  createLogger,
  installProcessGuards,
  ShutdownManager,
} from "@conveyor/core";
import { createPostgresDb, migrate } from "@conveyor/db";
import { defaultWorkerName, parseWorkerEnv } from "../env.ts";
import { startWorker } from "../service.ts";

async function main(): Promise<void> {
  const env = parseWorkerEnv(process.env);
  if (!env.DATABASE_URL) {
    throw new ConfigError([
      "DATABASE_URL: is required when the worker runs as its own process (postgres://user:pass@host:5432/db)",
    ]);
  }
  const name = env.WORKER_NAME ?? defaultWorkerName();
  const logger = createLogger({ level: env.LOG_LEVEL, base: { service: "worker", worker: name } });
  installProcessGuards(logger);
  const shutdown = new ShutdownManager(logger);
  shutdown.listen();

  const db = await createPostgresDb({
    url: env.DATABASE_URL,
    maxConnections: env.DB_POOL_SIZE,
    applicationName: `conveyor-worker ${name}`,
  });
  await migrate(db.db);
  const redis = await connectRedis({ url: env.REDIS_URL });
  await checkRedisEvictionPolicy(redis, logger);
  const service = await startWorker(env, { db, redis, logger, name });

  shutdown.register("worker", () => service.close());
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
