import { egressPolicyFromEnv, type Logger } from "@conveyor/core";
import type { DbHandle } from "@conveyor/db";
import { createArtifactStore, describeArtifactStore } from "@conveyor/runner/artifacts";
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
    healthPublic: env.HEALTH_PUBLIC,
    metricsToken: env.METRICS_TOKEN,
    metricsReportingIntervalMs: env.METRICS_REPORTING_INTERVAL_MS,
    apiKeyCacheTtlMs: env.API_KEY_CACHE_TTL_MS,
    egressPolicy: egressPolicyFromEnv(env),
    metricsPublic: env.METRICS_PUBLIC,
    trustProxy: env.TRUST_PROXY,
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
