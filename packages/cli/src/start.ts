import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { apiShutdownDeadlineMs, composeApi, createApiLogger } from "@conveyor/api";
import {
  ConfigError,
  checkRedisEvictionPolicy,
  connectRedis,
  generateSecretsKey,
  installProcessGuards,
  RedisUnavailableError,
  ShutdownManager,
} from "@conveyor/core";
import { createPgliteDb, createPostgresDb, type DbHandle, migrateAtStart } from "@conveyor/db";
import { composeWorker, createWorkerLogger, workerName, workerShutdownDeadlineMs } from "@conveyor/worker";
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
  const adminToken = parsed.ADMIN_TOKEN
    ? { value: parsed.ADMIN_TOKEN, file: undefined }
    : quickStartSecret(parsed.DATA_DIR, "admin-token", () => randomBytes(24).toString("base64url"));
  const secretsKey = parsed.SECRETS_KEY
    ? { value: parsed.SECRETS_KEY, file: undefined }
    : quickStartSecret(parsed.DATA_DIR, "secrets-key", generateSecretsKey);
  const env = { ...parsed, ADMIN_TOKEN: adminToken.value, SECRETS_KEY: secretsKey.value };
  const loopbackAllowed = !environment.EGRESS_ALLOW?.trim();
  // A person at a terminal reads "[api] …" / "[worker] …" lines; anything else gets JSON lines.
  const pretty = process.stdout.isTTY === true;
  const name = workerName(env);
  const apiLogger = createApiLogger(env, { pretty });
  const workerLogger = createWorkerLogger(env, name, { pretty });
  installProcessGuards(apiLogger);
  // The API's readiness delay, then the worker's drain, one after the other.
  const shutdown = new ShutdownManager(apiLogger, undefined, {
    deadlineMs: apiShutdownDeadlineMs(env) + workerShutdownDeadlineMs(env),
  });
  shutdown.listen();
  ensureDashboardBuilt(apiLogger);
  if (adminToken.file) {
    apiLogger.info(
      { file: adminToken.file },
      "ADMIN_TOKEN is not set: using the quick start's own token, stored in this file",
    );
  }

  let db: DbHandle;
  if (env.DATABASE_URL) {
    db = await createPostgresDb({
      url: env.DATABASE_URL,
      maxConnections: env.DB_POOL_SIZE,
      applicationName: "conveyor",
    });
  } else {
    const dir = join(env.DATA_DIR, "pgdata");
    apiLogger.info({ dir }, "DATABASE_URL is not set: using the embedded database");
    db = await createPgliteDb(dir);
  }
  await migrateAtStart(db.db, apiLogger);

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
    // What the worker's egress policy denies as Conveyor's own Redis.
    env.REDIS_URL = privateRedis.url;
  }
  await checkRedisEvictionPolicy(redis, apiLogger);

  // The same composition roots as `pnpm start:api` and `pnpm start:worker`, which register their
  // shutdown steps in order: "http" (readiness delay, then close), then "worker" (drain); the
  // connections close after both.
  const api = await composeApi(env, { db, redis, logger: apiLogger, shutdown });
  await composeWorker(env, { db, redis, logger: workerLogger, name, shutdown });
  shutdown.register("redis", async () => {
    await redis.quit();
    await stopPrivateRedis?.();
  });
  shutdown.register("database", () => db.close());
  apiLogger.info(
    `Conveyor is up: ${api.url} (dashboard: ${api.url}/ui, API docs: ${api.url}/docs)${loopbackAllowed ? "; recordings may open public sites and this machine's loopback (EGRESS_ALLOW unset: the quick start allows 127.0.0.0/8 and ::1)" : ""}`,
  );
}

/**
 * The dashboard the API serves under /ui is built from packages/web: build it now when it is
 * missing or older than its sources (packages/web/scripts/ensure-built.ts; a no-op otherwise), so
 * `pnpm install && pnpm start` is all a newcomer runs. A failed build costs the dashboard only.
 */
function ensureDashboardBuilt(logger: { info(msg: string): void; warn(obj: object, msg: string): void }): void {
  const script = fileURLToPath(new URL("../../web/scripts/ensure-built.ts", import.meta.url));
  if (!existsSync(script)) return;
  const result = spawnSync(process.execPath, [script], { encoding: "utf8" });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
  if (result.status !== 0 || /could not build/.test(output)) {
    logger.warn({ output: output.slice(-2000) }, "the dashboard could not be built: /ui answers 404");
  } else if (output) {
    logger.info("the dashboard (/ui) was built from packages/web");
  }
}

/**
 * A secret the quick start needs but the user did not set (ADMIN_TOKEN, SECRETS_KEY): generated
 * once, kept owner-only in DATA_DIR, never printed.
 */
function quickStartSecret(dataDir: string, name: string, generate: () => string): { value: string; file: string } {
  const file = resolve(dataDir, name);
  if (existsSync(file)) return { value: readFileSync(file, "utf8").trim(), file };
  mkdirSync(dataDir, { recursive: true });
  const value = generate();
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  return { value, file };
}

export function reportStartupError(error: unknown): never {
  console.error(error instanceof ConfigError ? error.message : `Conveyor failed to start: ${(error as Error).message}`);
  process.exit(1);
}
