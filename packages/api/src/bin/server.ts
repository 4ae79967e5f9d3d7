// `pnpm start:api`: the HTTP API as its own process (production: any number of replicas).

import { setTimeout as sleep } from "node:timers/promises";
import {
  ConfigError,
  checkRedisEvictionPolicy,
  connectRedis,
  createLogger,
  installProcessGuards,
  ShutdownManager,
} from "@conveyor/core";
import { createPostgresDb, migrate } from "@conveyor/db";
import { parseApiEnv } from "../env.ts";
import { startApi } from "../server.ts";

async function main(): Promise<void> {
  const env = parseApiEnv(process.env);
  if (!env.DATABASE_URL) {
    throw new ConfigError([
      "DATABASE_URL: is required when the API runs as its own process (postgres://user:pass@host:5432/db)",
    ]);
  }
  const logger = createLogger({ level: env.LOG_LEVEL, base: { service: "api" } });
  installProcessGuards(logger);
  const shutdown = new ShutdownManager(logger);
  shutdown.listen();

  const db = await createPostgresDb({
    url: env.DATABASE_URL,
    maxConnections: env.DB_POOL_SIZE,
    applicationName: "conveyor-api",
  });
  const applied = await migrate(db.db);
  if (applied.length) logger.info({ applied }, "migrations applied");
  const redis = await connectRedis({ url: env.REDIS_URL, maxRetriesPerRequest: 2 });
  await checkRedisEvictionPolicy(redis, logger);
  const api = await startApi(env, { db, redis, logger, isShuttingDown: () => shutdown.shuttingDown });

  shutdown.register("http", async () => {
    // Readiness already answers 503 (shutdown began); give load balancers time to notice.
    if (env.SHUTDOWN_READINESS_DELAY_MS > 0) await sleep(env.SHUTDOWN_READINESS_DELAY_MS);
    await api.close();
  });
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
