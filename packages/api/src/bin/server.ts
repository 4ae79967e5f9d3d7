// `pnpm start:api`: the HTTP API as its own process (production: any number of replicas).

import {
  ConfigError,
  checkRedisEvictionPolicy,
  connectRedis,
  installProcessGuards,
  ShutdownManager,
} from "@conveyor/core";
import { createPostgresDb, migrateAtStart } from "@conveyor/db";
import { parseApiEnv } from "../env.ts";
import { apiShutdownDeadlineMs, composeApi, createApiLogger } from "../server.ts";

async function main(): Promise<void> {
  const env = parseApiEnv(process.env);
  if (!env.DATABASE_URL) {
    throw new ConfigError([
      "DATABASE_URL: is required when the API runs as its own process (postgres://user:pass@host:5432/db)",
    ]);
  }
  const logger = createApiLogger(env);
  installProcessGuards(logger);
  const shutdown = new ShutdownManager(logger, undefined, { deadlineMs: apiShutdownDeadlineMs(env) });
  shutdown.listen();

  const db = await createPostgresDb({
    url: env.DATABASE_URL,
    maxConnections: env.DB_POOL_SIZE,
    applicationName: "conveyor-api",
  });
  await migrateAtStart(db.db, logger);
  const redis = await connectRedis({ url: env.REDIS_URL, maxRetriesPerRequest: 2 });
  await checkRedisEvictionPolicy(redis, logger);
  // Registers the "http" step (readiness delay, then close); connections close after it.
  await composeApi(env, { db, redis, logger, shutdown });
  shutdown.register("redis", async () => {
    await redis.quit();
  });
  shutdown.register("database", () => db.close());
}

main().catch((error: unknown) => {
  console.error(
    error instanceof ConfigError ? error.message : `Conveyor API failed to start: ${(error as Error).message}`,
  );
  process.exit(1);
});
