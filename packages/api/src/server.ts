import { setTimeout as sleep } from "node:timers/promises";
import { createArtifactStore, describeArtifactStore } from "@conveyor/artifacts";
import { createLogger, egressPolicyFromEnv, type Logger, type ShutdownManager } from "@conveyor/core";
import type { DbHandle } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { buildApp } from "./app.ts";
import type { ApiEnv } from "./env.ts";
import { createRunQueue } from "./queue.ts";

export interface ApiService {
  app: FastifyInstance;
  /** The address it listens on, e.g. http://127.0.0.1:3000. */
  url: string;
  /** Stops accepting connections, finishes in-flight requests, closes the queue. */
  close(): Promise<void>;
}

/** Starts the HTTP API on already-open connections (the caller owns and closes them). */
export async function startApi(
  env: ApiEnv,
  deps: { db: DbHandle; redis: Redis; logger: Logger; isShuttingDown: () => boolean },
): Promise<ApiService> {
  const queue = createRunQueue(deps.redis, {
    prefix: env.QUEUE_PREFIX,
    policy: { attempts: env.MAX_RETRIES + 1, backoffMs: env.RETRY_BACKOFF_MS },
  });
  deps.logger.info(describeArtifactStore(env), "artifact store");
  const app = await buildApp({
    db: deps.db,
    redis: deps.redis,
    queue,
    artifacts: createArtifactStore(env),
    logger: deps.logger,
    adminToken: env.ADMIN_TOKEN,
    queuePrefix: env.QUEUE_PREFIX,
    secretsKey: env.SECRETS_KEY,
    bodyLimitBytes: env.BODY_LIMIT_BYTES,
    defaults: {
      runTimeoutMs: env.DEFAULT_RUN_TIMEOUT_MS,
      actionTimeoutMs: env.ACTION_TIMEOUT_MS,
      maxAttempts: env.MAX_RETRIES + 1,
    },
    isShuttingDown: deps.isShuttingDown,
    scheduleMinIntervalS: env.SCHEDULE_MIN_INTERVAL_S,
    streamMaxPerKey: env.STREAM_MAX_PER_KEY,
    healthPublic: env.HEALTH_PUBLIC,
    bullBoardWrite: env.BULL_BOARD_WRITE,
    metricsToken: env.METRICS_TOKEN,
    metricsReportingIntervalMs: env.METRICS_REPORTING_INTERVAL_MS,
    apiKeyCacheTtlMs: env.API_KEY_CACHE_TTL_MS,
    egressPolicy: egressPolicyFromEnv(env),
    metricsPublic: env.METRICS_PUBLIC,
    trustProxy: env.TRUST_PROXY,
    sessionTtlMs: env.SESSION_TTL_MS,
    httpTimeouts: {
      requestMs: env.HTTP_REQUEST_TIMEOUT_MS,
      headersMs: env.HTTP_HEADERS_TIMEOUT_MS,
      keepAliveMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      connectionMs: env.HTTP_CONNECTION_TIMEOUT_MS,
    },
    rateLimits: {
      submitPerMin: env.RATE_LIMIT_SUBMIT_PER_MIN,
      writePerMin: env.RATE_LIMIT_WRITE_PER_MIN,
      readPerMin: env.RATE_LIMIT_READ_PER_MIN,
    },
    authThrottle: {
      limit: env.AUTH_FAILURE_LIMIT,
      windowMs: env.AUTH_FAILURE_WINDOW_MS,
      lockoutMs: env.AUTH_LOCKOUT_MS,
    },
    projectDefaults: {
      maxQueuedRuns: env.PROJECT_MAX_QUEUED_RUNS,
      maxPriority: env.PROJECT_MAX_PRIORITY,
      maxRecordingBytes: env.PROJECT_MAX_RECORDING_BYTES,
    },
    ...(env.FAILPOINTS ? { failpoints: env.FAILPOINTS.split(",").map((f) => f.trim()) } : {}),
  });
  const address = await app.listen({ port: env.PORT, host: env.HOST });
  deps.logger.info({ address }, "API listening");
  return {
    app,
    url: address.replace("0.0.0.0", "127.0.0.1"),
    close: async () => {
      await app.close();
      await queue.close();
    },
  };
}

/**
 * The API's logger: JSON lines bound to `service: "api"`, or, with `pretty` (the one-process
 * `pnpm start` on a terminal), human-readable lines starting with `[api]`.
 */
/**
 * The API's shutdown budget: its readiness delay (SHUTDOWN_READINESS_DELAY_MS), then 10 s for
 * in-flight requests and closing connections. Keep the platform's grace period above it
 * (k8s/api.yaml: 30 s against 5 s + 10 s).
 */
export function apiShutdownDeadlineMs(env: Pick<ApiEnv, "SHUTDOWN_READINESS_DELAY_MS">): number {
  return env.SHUTDOWN_READINESS_DELAY_MS + 10_000;
}

export function createApiLogger(env: Pick<ApiEnv, "LOG_LEVEL">, options: { pretty?: boolean } = {}): Logger {
  return createLogger({
    level: env.LOG_LEVEL,
    base: { service: "api" },
    ...(options.pretty ? { prettyPrefix: "[api]   " } : {}),
  });
}

/**
 * The composition root of the API, shared by `pnpm start:api` (bin/server.ts) and the
 * one-process `pnpm start` (cli/start.ts), so what the environment means cannot drift between
 * them: starts the API on the caller's connections and registers its shutdown step `http`. On
 * the first signal readiness answers 503 (the manager is shutting down) for
 * SHUTDOWN_READINESS_DELAY_MS, so load balancers stop sending requests, then the listener closes
 * after the requests in flight. The caller registers the steps that close its connections after
 * this one.
 */
export async function composeApi(
  env: ApiEnv,
  deps: {
    db: DbHandle;
    redis: Redis;
    logger: Logger;
    shutdown: Pick<ShutdownManager, "register" | "shuttingDown">;
  },
): Promise<ApiService> {
  const { shutdown } = deps;
  const api = await startApi(env, {
    db: deps.db,
    redis: deps.redis,
    logger: deps.logger,
    isShuttingDown: () => shutdown.shuttingDown,
  });
  shutdown.register("http", async () => {
    if (env.SHUTDOWN_READINESS_DELAY_MS > 0) {
      deps.logger.info(
        { delayMs: env.SHUTDOWN_READINESS_DELAY_MS },
        "readiness answers 503: waiting SHUTDOWN_READINESS_DELAY_MS before closing the listener",
      );
      await sleep(env.SHUTDOWN_READINESS_DELAY_MS);
    }
    await api.close();
  });
  return api;
}
