import { readFileSync } from "node:fs";
import type { ArtifactStore } from "@conveyor/artifacts";
import { type EgressPolicy, egressPolicyFromEnv, flushLogger } from "@conveyor/core";
import type { DbHandle } from "@conveyor/db";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type RouteOptions } from "fastify";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import type { Redis } from "ioredis";
import type { Logger } from "pino";
import { registerBullBoard } from "./bull-board.ts";
import { EventFeed } from "./event-feed.ts";
import { DEFAULT_HTTP_TIMEOUTS, type HttpTimeouts, httpTimeoutOptions } from "./http-timeouts.ts";
import { registerAuth } from "./plugins/auth.ts";
import { handleFrameworkError, registerErrorHandling } from "./plugins/errors.ts";
import { registerInputGuard } from "./plugins/input-guard.ts";
import { registerMetrics } from "./plugins/metrics.ts";
import { type RateLimits, registerRateLimits } from "./plugins/rate-limit.ts";
import { generateRequestId, requestChildLogger } from "./plugins/request-id.ts";
import { DOCS_CSP, registerSecurityHeaders } from "./plugins/security-headers.ts";
import { type ProjectLimits, ProjectLimitsCache } from "./project-limits.ts";
import type { RunQueue } from "./queue.ts";
import { registerAdminTasks } from "./routes/admin-tasks.ts";
import { registerAlertRoutes } from "./routes/alert-rules.ts";
import { registerGetArtifact } from "./routes/artifacts-get.ts";
import { registerChannelRoutes } from "./routes/channels.ts";
import { registerListDeadLetters } from "./routes/dead-letters-list.ts";
import { registerHealth } from "./routes/health.ts";
import { registerCreateKey } from "./routes/keys-create.ts";
import { registerListKeys } from "./routes/keys-list.ts";
import { registerRevokeKey } from "./routes/keys-revoke.ts";
import { registerRotateKey } from "./routes/keys-rotate.ts";
import { registerCreateProject } from "./routes/projects-create.ts";
import { registerProjectRoutes } from "./routes/projects-update.ts";
import { registerCreateRecording } from "./routes/recordings-create.ts";
import { registerDeleteRecording } from "./routes/recordings-delete.ts";
import { registerExportRecording } from "./routes/recordings-export.ts";
import { registerGetRecording } from "./routes/recordings-get.ts";
import { registerListRecordings } from "./routes/recordings-list.ts";
import { registerQuarantineRoutes } from "./routes/recordings-quarantine.ts";
import { registerGetRecordingSource } from "./routes/recordings-source.ts";
import { registerRecordingStats } from "./routes/recordings-stats.ts";
import { registerUpdateRecording } from "./routes/recordings-update.ts";
import { registerCancelRun } from "./routes/runs-cancel.ts";
import { registerCreateRun } from "./routes/runs-create.ts";
import { registerGetRunEvents } from "./routes/runs-events.ts";
import { registerGetRun } from "./routes/runs-get.ts";
import { registerListRuns } from "./routes/runs-list.ts";
import { registerRetryRun } from "./routes/runs-retry.ts";
import { registerScheduleRoutes, SCHEDULE_MIN_INTERVAL_S_DEFAULT } from "./routes/schedules.ts";
import { registerRecordingSchema } from "./routes/schemas-recording.ts";
import { registerSessionRoutes } from "./routes/session.ts";
import { registerStreams } from "./routes/streams.ts";
import { registerSuiteRoutes } from "./routes/suites.ts";
import { DEFAULT_UI_DIR, registerUi } from "./routes/ui.ts";
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
  /** METRICS_TOKEN: bearer token GET /metrics requires. Default: unset. */
  metricsToken?: string | undefined;
  /** METRICS_PUBLIC: serve GET /metrics without a token when METRICS_TOKEN is unset. Default false (refused). */
  metricsPublic?: boolean;
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
  /** RATE_LIMIT_*_PER_MIN budgets (requests a minute per key or address). Default: no rate limits. */
  rateLimits?: RateLimits;
  /** AUTH_FAILURE_LIMIT, AUTH_FAILURE_WINDOW_MS, AUTH_LOCKOUT_MS. Default: 20 failures a minute, 5 min lockout. */
  authThrottle?: { limit: number; windowMs: number; lockoutMs: number };
  /** PROJECT_MAX_*: a project's limits when it has none of its own. Default: 1000 queued, every priority, 1 MiB. */
  projectDefaults?: ProjectLimits;
  /** TRUST_PROXY: take the client address from X-Forwarded-For. Default false. */
  trustProxy?: boolean;
  /** How often API-key use (lastUsedAt) is written, ms. Default 10000. */
  keyUsageFlushMs?: number;
  /**
   * HTTP_*_TIMEOUT_MS: how long a client may take to send a request, its headers, and how long
   * idle or stalled connections stay open. Default DEFAULT_HTTP_TIMEOUTS (30 s, 10 s, 5 s, 60 s).
   */
  httpTimeouts?: HttpTimeouts;
  /** SCHEDULE_MIN_INTERVAL_S: the shortest interval a schedule may fire at, s. Default 60. */
  scheduleMinIntervalS?: number;
  /** STREAM_MAX_PER_KEY: event streams one API key may hold open on this process. Default 20. */
  streamMaxPerKey?: number;
  /** How often this process reads new run events for its open streams, ms. Default 200. */
  streamPollMs?: number;
  /** Time between two heartbeat comments on an open stream, ms. Default 15000. */
  streamHeartbeatMs?: number;
  /** SESSION_TTL_MS: a dashboard session ends after this long unused, ms. Default 43200000 (12 h). */
  sessionTtlMs?: number;
  /** The built dashboard served under /ui; null serves none. Default DEFAULT_UI_DIR (packages/web/dist). */
  uiDir?: string | null;
  /** Playwright's trace viewer served under /ui/trace/; null serves none. Default: the one inside the installed playwright-core. */
  traceViewerDir?: string | null;
  /** BULL_BOARD_WRITE: Bull Board (`/admin/queues`) may change jobs. Default false (read-only). */
  bullBoardWrite?: boolean;
  /** Called with each route as it is registered (tests enumerate every route with it). Default: none. */
  onRoute?: (route: RouteOptions) => void;
}

/** Limits of a project that sets none, when the caller passes no defaults. */
const DEFAULT_PROJECT_LIMITS: ProjectLimits = { maxQueuedRuns: 1000, maxPriority: 1, maxRecordingBytes: 1024 * 1024 };

/** Version of the API package, reported by GET /api/health/detailed and the OpenAPI document. */
export const API_VERSION: string = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** Builds the HTTP app without listening: tests use `app.inject`, server.ts calls `listen`. */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger as FastifyBaseLogger,
    bodyLimit: options.bodyLimitBytes,
    // Ids are always the server's own; a client's X-Request-Id goes on the log lines as
    // clientRequestId (plugins/request-id.ts).
    requestIdHeader: false,
    genReqId: generateRequestId,
    childLoggerFactory: requestChildLogger,
    ...httpTimeoutOptions(options.httpTimeouts ?? DEFAULT_HTTP_TIMEOUTS),
    // One access line per request, written when the response is sent (below), instead of
    // Fastify's two (incoming + completed): half the log volume, which at enqueue rates is a
    // large share of the API's CPU (docs/benchmarks.md). Through a LogController: the top-level
    // `disableRequestLogging` option is deprecated (FSTDEP023, printed at every start).
    logController: new Fastify.LogController({ disableRequestLogging: true }),
    trustProxy: options.trustProxy ?? false,
    // A path the router cannot decode answers in the error envelope, not Fastify's own body.
    frameworkErrors: handleFrameworkError,
  });
  app.addHook("onResponse", (request, reply, done) => {
    request.log.info(
      {
        method: request.method,
        // The path only: a query string can carry values (cursors, filters) that stay out of logs.
        url: request.url.replace(/\?.*/s, ""),
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
  registerInputGuard(app);
  if (options.onRoute) app.addHook("onRoute", options.onRoute);
  await registerSecurityHeaders(app);
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
  // The one page the API serves gets its own Content-Security-Policy (plugins/security-headers.ts).
  await app.register(swaggerUi, { routePrefix: "/docs", uiConfig: { docExpansion: "list" }, staticCSP: DOCS_CSP });

  const auth = await registerAuth(app, {
    db: options.db,
    redis: options.redis,
    prefix: options.queuePrefix,
    logger: options.logger,
    adminToken: options.adminToken,
    metricsToken: options.metricsToken,
    metricsPublic: options.metricsPublic ?? false,
    apiKeyCacheTtlMs: options.apiKeyCacheTtlMs ?? 0,
    ...(options.authThrottle ? { throttle: options.authThrottle } : {}),
    ...(options.keyUsageFlushMs === undefined ? {} : { keyUsageFlushMs: options.keyUsageFlushMs }),
    ...(options.sessionTtlMs === undefined ? {} : { sessionTtlMs: options.sessionTtlMs }),
  });
  if (options.rateLimits) {
    await registerRateLimits(app, { redis: options.redis, prefix: options.queuePrefix, limits: options.rateLimits });
  }
  const projectLimits = new ProjectLimitsCache(
    options.db.db,
    options.projectDefaults ?? DEFAULT_PROJECT_LIMITS,
    options.apiKeyCacheTtlMs ?? 0,
  );
  auth.onProjectForgotten((projectId) => projectLimits.forget(projectId));
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
  registerSessionRoutes(app, { db: options.db, auth });
  registerCreateProject(app, { db: options.db });
  registerAdminTasks(app, { db: options.db });
  await registerBullBoard(app, {
    redis: options.redis,
    prefix: options.queuePrefix,
    write: options.bullBoardWrite ?? false,
  });
  registerAlertRoutes(app, { db: options.db });
  registerProjectRoutes(app, { db: options.db, egressPolicy, auth });
  registerCreateKey(app, { db: options.db });
  registerListKeys(app, { db: options.db });
  registerRevokeKey(app, { db: options.db, auth });
  registerRotateKey(app, { db: options.db, auth });
  const secrets = createSecrets(options.secretsKey);
  registerCreateRecording(app, { db: options.db, secrets, egressPolicy, projectLimits });
  registerListRecordings(app, { db: options.db });
  registerGetRecording(app, { db: options.db });
  registerGetRecordingSource(app, { db: options.db });
  registerExportRecording(app, { db: options.db, defaults: options.defaults });
  registerDeleteRecording(app, { db: options.db });
  registerUpdateRecording(app, { db: options.db, secrets });
  registerRecordingStats(app, { db: options.db });
  registerQuarantineRoutes(app, { db: options.db });
  const failpoints = new Set(options.failpoints ?? []);
  const failpoint = async (name: string): Promise<void> => {
    if (!failpoints.has(name)) return;
    options.logger.warn({ failpoint: name }, "fail point reached: crashing on purpose");
    await flushLogger(options.logger);
    process.kill(process.pid, "SIGKILL");
    // Never resolves: the request must not go on to what the fail point stands in front of.
    await new Promise(() => {});
  };
  registerCreateRun(app, {
    db: options.db,
    writeRun: createRunWriter(options.db.db),
    queue: options.queue,
    secrets,
    egressPolicy,
    projectLimits,
    defaults: options.defaults,
    ...(failpoints.size ? { failpoint } : {}),
  });
  registerRetryRun(app, { db: options.db, queue: options.queue });
  registerListDeadLetters(app, { db: options.db });
  registerListRuns(app, { db: options.db });
  registerGetRun(app, { db: options.db });
  registerGetRunEvents(app, { db: options.db });
  const feed = new EventFeed({ db: options.db, logger: options.logger, pollMs: options.streamPollMs ?? 200 });
  app.addHook("onClose", async () => feed.stop());
  registerStreams(app, {
    db: options.db,
    feed,
    maxPerKey: options.streamMaxPerKey ?? 20,
    heartbeatMs: options.streamHeartbeatMs ?? 15_000,
  });
  registerCancelRun(app, {
    db: options.db,
    queue: options.queue,
    redis: options.redis,
    queuePrefix: options.queuePrefix,
  });
  registerSuiteRoutes(app, {
    db: options.db,
    secrets,
    queue: options.queue,
    redis: options.redis,
    queuePrefix: options.queuePrefix,
    egressPolicy,
    projectLimits,
    defaults: options.defaults,
  });
  registerScheduleRoutes(app, {
    db: options.db,
    queue: options.queue,
    redis: options.redis,
    queuePrefix: options.queuePrefix,
    projectLimits,
    defaults: options.defaults,
    minIntervalS: options.scheduleMinIntervalS ?? SCHEDULE_MIN_INTERVAL_S_DEFAULT,
  });
  registerChannelRoutes(app, {
    db: options.db,
    redis: options.redis,
    queuePrefix: options.queuePrefix,
    secretsKey: options.secretsKey,
    egressPolicy,
  });
  registerGetArtifact(app, { db: options.db, artifacts: options.artifacts });
  registerRecordingSchema(app);
  await registerUi(app, {
    dir: options.uiDir === undefined ? DEFAULT_UI_DIR : options.uiDir,
    ...(options.traceViewerDir === undefined ? {} : { traceDir: options.traceViewerDir }),
  });
  return app;
}
