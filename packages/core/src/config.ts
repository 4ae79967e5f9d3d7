import type { z } from "zod";
import {
  envEnum,
  envInteger,
  envOptionalBoolean,
  envOptionalString,
  envOptionalUrl,
  envString,
  envUrl,
} from "./env.ts";
import { parseSecretsKey } from "./secrets.ts";

/**
 * Environment variables shared by the API and the worker. Each process's own `env.ts` spreads
 * these into its schema; docs/configuration.md documents every one (a test keeps them in step).
 */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;

/** Where artifacts live: `local` (ARTIFACT_DIR) or `s3` (an S3-compatible bucket). */
export const ARTIFACT_STORE_KINDS = ["local", "s3"] as const;
export type ArtifactStoreKind = (typeof ARTIFACT_STORE_KINDS)[number];

export const commonEnvShape = {
  /** postgres:// URL. Required by separate API/worker processes; the quick start embeds PGlite without it. */
  DATABASE_URL: envOptionalUrl(["postgres:", "postgresql:"]),
  /** Redis holding the queues. Default redis://127.0.0.1:6379. */
  REDIS_URL: envUrl(["redis:", "rediss:"], "redis://127.0.0.1:6379"),
  /** Prefix of every Redis key Conveyor writes; lets several installations share one Redis. Default "conveyor". */
  QUEUE_PREFIX: envString("conveyor"),
  /** Directory for screenshots and other artifacts (ARTIFACT_STORE=local). Default ./.conveyor/artifacts. */
  ARTIFACT_DIR: envString(".conveyor/artifacts"),
  /**
   * Where screenshots, videos and traces are stored: `local` (ARTIFACT_DIR; several hosts need a
   * shared volume) or `s3` (an S3-compatible bucket every API and worker reaches). Default local.
   */
  ARTIFACT_STORE: envEnum(ARTIFACT_STORE_KINDS, "local"),
  /** Bucket of ARTIFACT_STORE=s3 (required then). It must exist. Default: none. */
  S3_BUCKET: envOptionalString(),
  /** http(s) URL of an S3-compatible server (MinIO, …). Default: none (AWS S3 of S3_REGION). */
  S3_ENDPOINT: envOptionalUrl(["http:", "https:"]),
  /** Region signed into requests. Default us-east-1. */
  S3_REGION: envString("us-east-1"),
  /** Access key id. Default: none (the SDK's credential chain: IAM role, AWS_* variables, …). */
  S3_ACCESS_KEY_ID: envOptionalString(),
  /** Secret access key; a secret, never logged. Set together with S3_ACCESS_KEY_ID. Default: none. */
  S3_SECRET_ACCESS_KEY: envOptionalString(),
  /**
   * Path-style URLs (`endpoint/bucket/key`, as MinIO needs) instead of virtual-host style.
   * Default: true when S3_ENDPOINT is set, false otherwise.
   */
  S3_FORCE_PATH_STYLE: envOptionalBoolean(),
  /** Prefix of every object key (e.g. `conveyor/`), so one bucket can hold other data. Default: none. */
  S3_PREFIX: envOptionalString(),
  /**
   * Artifacts older than this many days are deleted (once a day, by one worker at a time); 0 keeps
   * them forever. Default 30.
   */
  ARTIFACT_RETENTION_DAYS: envInteger(30, 0, 36_500),
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
  /**
   * Bearer token Prometheus must send to scrape `GET /metrics` (the API's, and a worker's on
   * WORKER_METRICS_PORT). Unset: metrics are public on those ports. Default: unset.
   */
  METRICS_TOKEN: envOptionalString().refine(
    (value) => value === undefined || value.length >= 16,
    "must be at least 16 characters",
  ),
  /** pino level. Default info. */
  LOG_LEVEL: envEnum(LOG_LEVELS, "info"),
};

/**
 * Cross-field rules of the variables above; every process's schema applies it once in its
 * `superRefine`.
 */
export function checkCommonEnv(
  env: {
    ARTIFACT_STORE: ArtifactStoreKind;
    S3_BUCKET?: string | undefined;
    S3_ACCESS_KEY_ID?: string | undefined;
    S3_SECRET_ACCESS_KEY?: string | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  if (env.ARTIFACT_STORE === "s3" && env.S3_BUCKET === undefined) {
    ctx.addIssue({ code: "custom", path: ["S3_BUCKET"], message: "is required when ARTIFACT_STORE=s3" });
  }
  if ((env.S3_ACCESS_KEY_ID === undefined) !== (env.S3_SECRET_ACCESS_KEY === undefined)) {
    const missing = env.S3_ACCESS_KEY_ID === undefined ? "S3_ACCESS_KEY_ID" : "S3_SECRET_ACCESS_KEY";
    ctx.addIssue({
      code: "custom",
      path: [missing],
      message: "set S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY together (or neither, to use the SDK's credential chain)",
    });
  }
}
