import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startApi } from "@conveyor/api";
import {
  ConfigError,
  checkRedisEvictionPolicy,
  connectRedis,
  createLogger,
  RedisUnavailableError,
  ShutdownManager,
} from "@conveyor/core";
import { createPgliteDb, createPostgresDb, type DbHandle, migrate } from "@conveyor/db";
import { defaultWorkerName, startWorker } from "@conveyor/worker";
import type { Redis } from "ioredis";
import { parseStartEnv } from "./env.ts";
import { hasRedisServer, startPrivateRedis } from "./private-redis.ts";

/**
 * `pnpm start`: migrations, the API and one worker in one process — the quick start. Without
 * DATABASE_URL it uses an embedded Postgres (PGlite) in DATA_DIR; without a reachable Redis (and
 * REDIS_URL unset) it starts a private redis-server from PATH.
 */
export async function runQuickStart(environment: Record<string, string | undefined>): Promise<void> {
  const parsed = parseStartEnv(environment);
  const adminToken = parsed.ADMIN_TOKEN ? { token: parsed.ADMIN_TOKEN } : quickStartAdminToken(parsed.DATA_DIR);
  const env = { ...parsed, ADMIN_TOKEN: adminToken.token };
  const pretty = process.stdout.isTTY === true;
  const name = env.WORKER_NAME ?? defaultWorkerName();
  const apiLogger = createLogger({
    level: env.LOG_LEVEL,
    base: { service: "api" },
    ...(pretty ? { prettyPrefix: "[API]" } : {}),
  });
  const workerLogger = createLogger({
    level: env.LOG_LEVEL,
    base: { service: "worker", worker: name },
    ...(pretty ? { prettyPrefix: "[WORKER]" } : {}),
  });
  const shutdown = new ShutdownManager(apiLogger);
  shutdown.listen();
  if (adminToken.file) {
    apiLogger.info(
      { file: adminToken.file },
      "ADMIN_TOKEN is not set: using the quick start's own token, stored in this file",
    );
  }

  let db: DbHandle;
  if (env.DATABASE_URL) {
    db = await createPostgresDb({ url: env.DATABASE_URL, applicationName: "conveyor" });
  } else {
    const dir = join(env.DATA_DIR, "pgdata");
    apiLogger.info({ dir }, "DATABASE_URL is not set: using the embedded database");
    db = await createPgliteDb(dir);
  }
  const applied = await migrate(db.db);
  if (applied.length) apiLogger.info({ applied }, "migrations applied");

  let redis: Redis;
  let stopPrivateRedis: (() => Promise<void>) | undefined;
  try {
    redis = await connectRedis({ url: env.REDIS_URL });
  } catch (error) {
    if (!(error instanceof RedisUnavailableError) || environment.REDIS_URL || !hasRedisServer()) throw error;
    const privateRedis = await startPrivateRedis(env.DATA_DIR);
    apiLogger.info({ url: privateRedis.url }, "no Redis at REDIS_URL's default: started a private redis-server");
    redis = await connectRedis({ url: privateRedis.url });
    stopPrivateRedis = () => privateRedis.stop();
  }
  await checkRedisEvictionPolicy(redis, apiLogger);

  const api = await startApi(env, { db, redis, logger: apiLogger, isShuttingDown: () => shutdown.shuttingDown });
  const worker = await startWorker(env, { db, redis, logger: workerLogger, name });
  // Handlers run in order: stop HTTP, drain the worker, then close connections.
  shutdown.register("http", () => api.close());
  shutdown.register("worker", () => worker.close());
  shutdown.register("redis", async () => {
    await redis.quit();
    await stopPrivateRedis?.();
  });
  shutdown.register("database", () => db.close());
  apiLogger.info(`Conveyor is up: ${api.url} (API docs: ${api.url}/docs)`);
}

/**
 * The quick start's admin token when ADMIN_TOKEN is unset: generated once, kept in
 * DATA_DIR/admin-token (owner-only), never printed.
 */
function quickStartAdminToken(dataDir: string): { token: string; file?: string } {
  const file = resolve(dataDir, "admin-token");
  if (existsSync(file)) return { token: readFileSync(file, "utf8").trim(), file };
  mkdirSync(dataDir, { recursive: true });
  const token = randomBytes(24).toString("base64url");
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, file };
}

export function reportStartupError(error: unknown): never {
  console.error(error instanceof ConfigError ? error.message : `Conveyor failed to start: ${(error as Error).message}`);
  process.exit(1);
}
