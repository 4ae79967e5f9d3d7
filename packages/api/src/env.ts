import {
  checkCommonEnv,
  commonEnvShape,
  envBoolean,
  envInteger,
  envOptionalString,
  envString,
  parseEnv,
} from "@conveyor/core";
import { z } from "zod";

export const apiEnvShape = {
  ...commonEnvShape,
  /** Retries after the first attempt for infrastructure errors, given to each run when it is accepted. Default 2. */
  MAX_RETRIES: envInteger(2, 0, 20),
  /**
   * Test only: comma-separated fail points that make the API crash at a chosen moment, to prove
   * nothing is lost. `api.after-commit-before-enqueue`: SIGKILL itself after a run commits, before
   * its job is added. Never set in production.
   */
  FAILPOINTS: envOptionalString(),
  /** HTTP port. Default 3000. */
  PORT: envInteger(3000, 0, 65_535),
  /** Interface to listen on. Default 0.0.0.0. */
  HOST: envString("0.0.0.0"),
  /**
   * On SIGTERM, how long readiness answers 503 before the listener closes, so load balancers
   * stop sending new requests first, ms. Default 0 (set ~5000 behind a load balancer).
   */
  SHUTDOWN_READINESS_DELAY_MS: envInteger(0, 0, 120_000),
  /**
   * Token that authorizes POST /api/projects, and GET /api/health/detailed and /api/health/worker
   * unless HEALTH_PUBLIC. Unset: project creation is disabled.
   */
  ADMIN_TOKEN: envOptionalString(),
  /**
   * Serve GET /api/health/detailed and /api/health/worker without a token. They name worker hosts
   * and show queue depth, so by default they need ADMIN_TOKEN. Default false.
   */
  HEALTH_PUBLIC: envBoolean(false),
  /**
   * Let operators retry, promote and remove jobs in Bull Board (`/admin/queues`); by default it
   * only shows them (a job changed by hand bypasses what Postgres says of its run). Default false.
   */
  BULL_BOARD_WRITE: envBoolean(false),
  /**
   * How often the API recounts runs in Postgres for /metrics (runs by status, started and finished
   * totals), ms. Every API replica reports the same database-wide numbers. Default 15000.
   */
  METRICS_REPORTING_INTERVAL_MS: envInteger(15_000, 100, 3_600_000),
  /** Whole-run timeout when a run does not set one, ms. Default 300000 (5 min). */
  DEFAULT_RUN_TIMEOUT_MS: envInteger(300_000, 1000, 3_600_000),
  /** Per-action timeout of runs, ms. Default 15000. */
  ACTION_TIMEOUT_MS: envInteger(15_000, 100, 600_000),
  /**
   * How long each API replica trusts a successful API-key lookup, ms, so requests skip a database
   * round trip. A revoked key keeps working for at most this long; 0 looks every request up.
   * Default 5000.
   */
  API_KEY_CACHE_TTL_MS: envInteger(5000, 0, 300_000),
  /**
   * The shortest interval a schedule may fire at, s: `everySeconds` below it, and a cron expression
   * that fires more often, are refused with 400. Default 60.
   */
  SCHEDULE_MIN_INTERVAL_S: envInteger(60, 1, 86_400),
  /**
   * Event streams (`GET /api/runs/:id/stream`, `GET /api/stream`) one API key may hold open on one
   * API process; one more is answered 429. Default 20.
   */
  STREAM_MAX_PER_KEY: envInteger(20, 1, 10_000),
  /** Largest accepted request body, bytes. Default 5242880 (5 MiB). */
  BODY_LIMIT_BYTES: envInteger(5 * 1024 * 1024, 1024, 100 * 1024 * 1024),
  /**
   * `POST /api/runs` a minute per API key, across all API replicas (Redis); 0 turns the limit off.
   * Default 1200: a CI pipeline that submits a suite of several hundred runs at once fits.
   */
  RATE_LIMIT_SUBMIT_PER_MIN: envInteger(1200, 0, 1_000_000),
  /** Other writes (POST, PATCH, DELETE) a minute per API key (per address without one); 0: off. Default 600. */
  RATE_LIMIT_WRITE_PER_MIN: envInteger(600, 0, 1_000_000),
  /** Reads (GET) a minute per API key (per address without one); 0: off. Default 3000 (a dashboard polling). */
  RATE_LIMIT_READ_PER_MIN: envInteger(3000, 0, 1_000_000),
  /**
   * Failed authentications (a wrong admin token, an unknown, revoked or expired key) one client
   * address may make within AUTH_FAILURE_WINDOW_MS; past half of it answers slow down, past it the
   * address is refused for AUTH_LOCKOUT_MS. Default 20.
   */
  AUTH_FAILURE_LIMIT: envInteger(20, 1, 1_000_000),
  /** Window failed authentications are counted in, ms. Default 60000. */
  AUTH_FAILURE_WINDOW_MS: envInteger(60_000, 1000, 86_400_000),
  /** How long an address that failed too often is refused, ms. Default 300000 (5 min). */
  AUTH_LOCKOUT_MS: envInteger(300_000, 1000, 86_400_000),
  /**
   * How long a dashboard session (the cookie set by POST /api/session) lives unused, ms; every
   * request with it starts the period again. Default 43200000 (12 h).
   */
  SESSION_TTL_MS: envInteger(12 * 3_600_000, 60_000, 30 * 86_400_000),
  /**
   * Take the client address from X-Forwarded-For (set when the API runs behind a load balancer or
   * ingress; without it every client would share the proxy's address). Default false.
   */
  TRUST_PROXY: envBoolean(false),
  /** Runs a project may have queued at once (a project's own `limits.maxQueuedRuns` overrides); 0: no limit. Default 1000. */
  PROJECT_MAX_QUEUED_RUNS: envInteger(1000, 0, 10_000_000),
  /**
   * The most urgent priority a project's runs may ask for (1 is the most urgent; a project's own
   * `limits.maxPriority` overrides). Default 1: every priority.
   */
  PROJECT_MAX_PRIORITY: envInteger(1, 1, 10),
  /** Largest recording a project may submit, bytes of JSON (its own `limits.maxRecordingBytes` overrides). Default 1048576 (1 MiB). */
  PROJECT_MAX_RECORDING_BYTES: envInteger(1024 * 1024, 1024, 100 * 1024 * 1024),
  /**
   * Longest a client may take to send a whole request, headers and body, ms; then the server
   * answers 408 and closes the connection, so a slow client cannot hold it. Default 30000.
   */
  HTTP_REQUEST_TIMEOUT_MS: envInteger(30_000, 1000, 3_600_000),
  /**
   * Longest a client may take to send a request's headers, ms (slowloris); at most
   * HTTP_REQUEST_TIMEOUT_MS. Default 10000.
   */
  HTTP_HEADERS_TIMEOUT_MS: envInteger(10_000, 1000, 3_600_000),
  /**
   * How long an idle keep-alive connection stays open for the client's next request, ms. Behind a
   * load balancer that reuses connections, set it above the balancer's idle timeout. Default 5000.
   */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: envInteger(5000, 100, 3_600_000),
  /**
   * A connection on which nothing moves for this long is closed, ms: a client that stops reading
   * its response, or goes silent mid-request. 0: never. Default 60000.
   */
  HTTP_CONNECTION_TIMEOUT_MS: envInteger(60_000, 0, 3_600_000),
};

/** Cross-field rules of the API's variables (also applied by the quick start). */
export function checkApiEnv(
  env: { ADMIN_TOKEN?: string | undefined; HTTP_REQUEST_TIMEOUT_MS: number; HTTP_HEADERS_TIMEOUT_MS: number },
  ctx: z.RefinementCtx,
): void {
  if (env.ADMIN_TOKEN !== undefined && env.ADMIN_TOKEN.length < 16) {
    ctx.addIssue({ code: "custom", path: ["ADMIN_TOKEN"], message: "must be at least 16 characters" });
  }
  // Node refuses a headers timeout above the request timeout (the request includes its headers).
  if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) {
    ctx.addIssue({
      code: "custom",
      path: ["HTTP_HEADERS_TIMEOUT_MS"],
      message: `must be at most HTTP_REQUEST_TIMEOUT_MS (${env.HTTP_REQUEST_TIMEOUT_MS}), got ${env.HTTP_HEADERS_TIMEOUT_MS}`,
    });
  }
}

export const apiEnvSchema = z.object(apiEnvShape).superRefine((env, ctx) => {
  checkCommonEnv(env, ctx);
  checkApiEnv(env, ctx);
});

export type ApiEnv = z.output<typeof apiEnvSchema>;

/** Parses the API's environment once at start; throws ConfigError listing every bad variable. */
export function parseApiEnv(env: Record<string, string | undefined>): ApiEnv {
  return parseEnv(apiEnvSchema, env);
}
