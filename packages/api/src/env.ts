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
  /** Largest accepted request body, bytes. Default 5242880 (5 MiB). */
  BODY_LIMIT_BYTES: envInteger(5 * 1024 * 1024, 1024, 100 * 1024 * 1024),
};

/** Cross-field rules of the API's variables (also applied by the quick start). */
export function checkApiEnv(env: { ADMIN_TOKEN?: string | undefined }, ctx: z.RefinementCtx): void {
  if (env.ADMIN_TOKEN !== undefined && env.ADMIN_TOKEN.length < 16) {
    ctx.addIssue({ code: "custom", path: ["ADMIN_TOKEN"], message: "must be at least 16 characters" });
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
