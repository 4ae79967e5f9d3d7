import { envEnum, envInteger, envOptionalString, envOptionalUrl, envString, envUrl } from "./env.ts";
import { parseSecretsKey } from "./secrets.ts";

/**
 * Environment variables shared by the API and the worker. Each process's own `env.ts` spreads
 * these into its schema; docs/configuration.md documents every one (a test keeps them in step).
 */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

export const commonEnvShape = {
  /** postgres:// URL. Required by separate API/worker processes; the quick start embeds PGlite without it. */
  DATABASE_URL: envOptionalUrl(["postgres:", "postgresql:"]),
  /** Redis holding the queues. Default redis://127.0.0.1:6379. */
  REDIS_URL: envUrl(["redis:", "rediss:"], "redis://127.0.0.1:6379"),
  /** Prefix of every Redis key Conveyor writes; lets several installations share one Redis. Default "conveyor". */
  QUEUE_PREFIX: envString("conveyor"),
  /** Directory for screenshots and other artifacts. Default ./.conveyor/artifacts. */
  ARTIFACT_DIR: envString(".conveyor/artifacts"),
  /**
   * 32-byte key (64 hex or 43 base64url characters) sealing sensitive values at rest (inputs
   * marked sensitive, variables declared sensitive). Unset: such values are refused with a 400.
   * API and workers must share it. The quick start generates one in DATA_DIR/secrets-key.
   */
  SECRETS_KEY: envOptionalString().refine((value) => {
    if (value === undefined) return true;
    try {
      parseSecretsKey(value);
      return true;
    } catch {
      return false;
    }
  }, "must be 32 bytes: 64 hex characters or 43 base64url characters (generate one: openssl rand -hex 32)"),
  /**
   * Base of the exponential backoff between retries of recoverable errors, ms: retry n waits 50–100 %
   * of base × 2^(n−1). Set on a run's job when it is enqueued (by the API, or by a worker's
   * reconciler re-enqueueing it). Default 1000.
   */
  RETRY_BACKOFF_MS: envInteger(1000, 1, 3_600_000),
  /** Postgres connections of this process. Default 10. */
  DB_POOL_SIZE: envInteger(10, 1, 100),
  /** pino level. Default info. */
  LOG_LEVEL: envEnum(LOG_LEVELS, "info"),
};
