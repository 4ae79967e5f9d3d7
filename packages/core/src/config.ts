import { envEnum, envInteger, envOptionalUrl, envString, envUrl } from "./env.ts";

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
  /** pino level. Default info. */
  LOG_LEVEL: envEnum(LOG_LEVELS, "info"),
  /** Retries after the first attempt for infrastructure errors. Default 2. */
  MAX_RETRIES: envInteger(2, 0, 20),
  /** Base of the exponential retry backoff, ms. Default 1000. */
  RETRY_BACKOFF_MS: envInteger(1000, 1, 3_600_000),
};
