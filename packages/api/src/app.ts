import { readFileSync } from "node:fs";
import { type EgressPolicy, egressPolicyFromEnv, flushLoggerSync } from "@conveyor/core";
import type { DbHandle } from "@conveyor/db";
import type { ArtifactStore } from "@conveyor/runner/artifacts";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { registerAuth } from "./plugins/auth.ts";
import { registerErrorHandling } from "./plugins/errors.ts";
import { registerMetrics } from "./plugins/metrics.ts";
import type { RunQueue } from "./queue.ts";
import { registerGetArtifact } from "./routes/artifacts-get.ts";
import { registerListDeadLetters } from "./routes/dead-letters-list.ts";
import { registerHealth } from "./routes/health.ts";
import { registerCreateProject } from "./routes/projects-create.ts";
import { registerProjectRoutes } from "./routes/projects-update.ts";
import { registerCreateRecording } from "./routes/recordings-create.ts";
import { registerDeleteRecording } from "./routes/recordings-delete.ts";
import { registerGetRecording } from "./routes/recordings-get.ts";
import { registerListRecordings } from "./routes/recordings-list.ts";
import { registerCancelRun } from "./routes/runs-cancel.ts";
import { registerCreateRun } from "./routes/runs-create.ts";
import { registerGetRunEvents } from "./routes/runs-events.ts";
import { registerGetRun } from "./routes/runs-get.ts";
import { registerListRuns } from "./routes/runs-list.ts";
import { registerRetryRun } from "./routes/runs-retry.ts";
import { registerRecordingSchema } from "./routes/schemas-recording.ts";
import { createRunWriter } from "./run-writer.ts";
import { createSecrets } from "./secrets.ts";

export interface AppOptions {
  db: DbHandle;
  redis: Redis;
  queue: RunQueue;
  artifacts: ArtifactStore;
  /** pino logger; the app logs each request with its id. */
  logger: Logger;
  /** Authorizes POST /api/projects; undefined disables it. */
  adminToken: string | undefined;
  /** Largest accepted body, bytes. */
  bodyLimitBytes: number;
  defaults: { runTimeoutMs: number; actionTimeoutMs: number; maxAttempts: number };
  /** Redis key prefix of the queues (QUEUE_PREFIX); also names the cancel channel. */
  queuePrefix: string;
  /** SECRETS_KEY: seals sensitive values at rest; undefined refuses them. */
  secretsKey: string | undefined;
  /** Test-only crash points (FAILPOINTS), e.g. "api.after-commit-before-enqueue". Default: none. */
  failpoints?: string[];
  /** Whether shutdown began (readiness fails). Default: never. */
  isShuttingDown?: () => boolean;
  /**
   * HEALTH_PUBLIC: serve GET /api/health/detailed and /api/health/worker without a token.
   * Default false (they need ADMIN_TOKEN: they name worker hosts and show queue depth).
   */
  healthPublic?: boolean;
  /** METRICS_TOKEN: bearer token GET /metrics requires. Default: unset, /metrics is public. */
  metricsToken?: string | undefined;
  /** METRICS_REPORTING_INTERVAL_MS: how often /metrics recounts runs in Postgres, ms. Default 15000. */
  metricsReportingIntervalMs?: number;
  /**
   * API_KEY_CACHE_TTL_MS: how long a successful API-key lookup is trusted in this process, ms (a
   * revoked key keeps working here for at most this long). Default 0: every request looks its key
   * up; the server passes the env default, 5000.
   */
  apiKeyCacheTtlMs?: number;
  /**
   * The operator's egress policy (EGRESS_*): recordings whose literal URLs it refuses are answered
   * 422, and project allowlists are held to its EGRESS_PROJECT_MAX. Default: `public`, no lists.
   */
  egressPolicy?: EgressPolicy;
}

/** Version of the API package, reported by GET /api/health/detailed and the OpenAPI document. */
export const API_VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** Builds the HTTP app without listening: tests use `app.inject`, server.ts calls `listen`. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimitBytes,
    requestIdHeader: "x-request-id",
    genReqId: () => `req_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`,
    // One access line per request, written when the response is sent (below), instead of
    // Fastify's two (incoming + completed): half the log volume, which at enqueue rates is a
    // large share of the API's CPU (docs/benchmarks.md).
    disableRequestLogging: true,
  });
  app.addHook("onResponse", (request, reply, done) => {
    request.log.info(
      {
        method: request.method,
        url: request.url,
        statusCode: reply.statusCode,
        responseTime: Math.round(reply.elapsedTime * 10) / 10,
      },
      "request",
    );
    done();
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.addHook("onRequest", (request, reply, done) => {
    reply.header("x-request-id", request.id);
    done();
  });
  registerErrorHandling(app);
  // The API speaks JSON only: other bodies get a 415 rather than a confusing validation error.
  app.removeContentTypeParser("text/plain");

  await app.register(swagger, {
    openapi: {
      info: { title: "Conveyor API", version: API_VERSION, description: "Run recorded browser tests at scale." },
      components: {
        securitySchemes: {
          apiKey: { type: "http", scheme: "bearer", description: "A project's API key" },
          adminToken: {
            type: "http",
            scheme: "bearer",
            description: "ADMIN_TOKEN (project creation; detailed health unless HEALTH_PUBLIC)",
          },
          metricsToken: { type: "http", scheme: "bearer", description: "METRICS_TOKEN (GET /metrics, when set)" },
        },
      },
      security: [{ apiKey: [] }],
    },
    transform: jsonSchemaTransform,
  });
  // The UI's own routes are public. The hook must exist before the UI registers its routes:
  // `await app.register` adds them at once, and onRoute only sees routes added after it.
  app.addHook("onRoute", (route) => {
    if (route.url.startsWith("/docs")) route.config = { ...(route.config ?? {}), auth: "public" };
  });
  await app.register(swaggerUi, { routePrefix: "/docs", uiConfig: { docExpansion: "list" } });

  registerAuth(app, {
    db: options.db,
    adminToken: options.adminToken,
    metricsToken: options.metricsToken,
    apiKeyCacheTtlMs: options.apiKeyCacheTtlMs ?? 0,
  });
  // Before the routes, so its request hook sees every one of them.
  registerMetrics(app, {
    db: options.db,
    redis: options.redis,
    queue: options.queue,
    queuePrefix: options.queuePrefix,
    reportingIntervalMs: options.metricsReportingIntervalMs ?? 15_000,
    logger: app.log,
    tokenRequired: options.metricsToken !== undefined,
  });

  registerHealth(app, {
    db: options.db,
    redis: options.redis,
    queue: options.queue,
    queuePrefix: options.queuePrefix,
    isShuttingDown: options.isShuttingDown ?? (() => false),
    operatorAuth: options.healthPublic ? "public" : "admin",
    version: API_VERSION,
  });
  const egressPolicy = options.egressPolicy ?? egressPolicyFromEnv({ EGRESS_POLICY: "public" });
  registerCreateProject(app, { db: options.db });
  registerProjectRoutes(app, { db: options.db, egressPolicy });
  const secrets = createSecrets(options.secretsKey);
  registerCreateRecording(app, { db: options.db, secrets, egressPolicy });
  registerListRecordings(app, { db: options.db });
  registerGetRecording(app, { db: options.db });
  registerDeleteRecording(app, { db: options.db });
  const failpoints = new Set(options.failpoints ?? []);
  const failpoint = (name: string) => {
    if (!failpoints.has(name)) return;
    options.logger.warn({ failpoint: name }, "fail point reached: crashing on purpose");
    flushLoggerSync(options.logger);
    process.kill(process.pid, "SIGKILL");
  };
  registerCreateRun(app, {
    db: options.db,
    writeRun: createRunWriter(options.db.db),
    queue: options.queue,
    secrets,
    egressPolicy,
    defaults: options.defaults,
    ...(failpoints.size ? { failpoint } : {}),
  });
  registerRetryRun(app, { db: options.db, queue: options.queue });
  registerListDeadLetters(app, { db: options.db });
  registerListRuns(app, { db: options.db });
  registerGetRun(app, { db: options.db });
  registerGetRunEvents(app, { db: options.db });
  registerCancelRun(app, {
    db: options.db,
    queue: options.queue,
    redis: options.redis,
    queuePrefix: options.queuePrefix,
  });
  registerGetArtifact(app, { db: options.db, artifacts: options.artifacts });
  registerRecordingSchema(app);
  return app;
}
