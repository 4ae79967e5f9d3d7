import { z } from "zod";
import {
  builtInDenyEntries,
  EGRESS_MODES,
  type EgressEntry,
  EgressEntryError,
  type EgressPolicy,
  parseEgressList,
} from "./egress/index.ts";
import {
  envBoolean,
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
 * A comma-separated list of egress entries (`host`, `host:port`, `*.domain`, `CIDR`,
 * `CIDR:port`): `undefined` when unset or empty. A bad entry stops the process at start, named.
 */
export function envEgressList() {
  return z
    .string()
    .trim()
    .optional()
    .transform((value, ctx): EgressEntry[] | undefined => {
      if (value === undefined || value === "") return undefined;
      try {
        return parseEgressList(value);
      } catch (error) {
        if (!(error instanceof EgressEntryError)) throw error;
        ctx.addIssue({ code: "custom", message: error.message });
        return z.NEVER;
      }
    });
}

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
   * WORKER_METRICS_PORT). Unset: metrics are refused, unless METRICS_PUBLIC. Default: unset.
   */
  METRICS_TOKEN: envOptionalString().refine(
    (value) => value === undefined || value.length >= 16,
    "must be at least 16 characters",
  ),
  /**
   * Serve `GET /metrics` (the API's, and a worker's on WORKER_METRICS_PORT) without a token when
   * METRICS_TOKEN is unset. Metrics name workers and count every project's runs, so by default
   * they need METRICS_TOKEN. Default false.
   */
  METRICS_PUBLIC: envBoolean(false),
  /** pino level. Default info. */
  LOG_LEVEL: envEnum(LOG_LEVELS, "info"),
  /**
   * What a recording's browser (and any request a tenant can aim) may reach: `public` — public
   * unicast addresses plus the allowlists; `allowlist` — only the allowlists; `off` — everything
   * but the always-denied list (single-user local use; logged as a warning at start). Default public.
   */
  EGRESS_POLICY: envEnum(EGRESS_MODES, "public"),
  /**
   * The operator's allowlist: comma-separated `host`, `host:port`, `*.domain`, `CIDR` or
   * `CIDR:port` entries opened to every project (e.g. `10.20.0.0/16,staging.internal:8443`).
   * Default: none (the quick start: loopback).
   */
  EGRESS_ALLOW: envEgressList(),
  /**
   * Always denied, whatever the allowlists say, in addition to the built-in entries (cloud
   * metadata addresses, and the hosts and ports of DATABASE_URL, REDIS_URL and S3_ENDPOINT).
   * Same syntax as EGRESS_ALLOW. Add the API's own address here when workers can reach it.
   * Default: none beyond the built-in entries.
   */
  EGRESS_DENY: envEgressList(),
  /**
   * How far a project's own allowlist (`PATCH /api/projects/:id`) may reach: each project entry
   * must lie inside one of these. Default: none — projects cannot open anything private.
   */
  EGRESS_PROJECT_MAX: envEgressList(),
};

/**
 * The operator's egress policy from the environment (no project allowlist yet: see
 * `withProjectAllow`). `extraAllow` is what a process adds by default (the quick start's loopback).
 */
export function egressPolicyFromEnv(env: {
  EGRESS_POLICY: EgressPolicy["mode"];
  EGRESS_ALLOW?: EgressEntry[] | undefined;
  EGRESS_DENY?: EgressEntry[] | undefined;
  EGRESS_PROJECT_MAX?: EgressEntry[] | undefined;
  DATABASE_URL?: string | undefined;
  REDIS_URL?: string | undefined;
  S3_ENDPOINT?: string | undefined;
}): EgressPolicy {
  return {
    mode: env.EGRESS_POLICY,
    deny: [
      ...builtInDenyEntries({
        ...(env.DATABASE_URL === undefined ? {} : { databaseUrl: env.DATABASE_URL }),
        ...(env.REDIS_URL === undefined ? {} : { redisUrl: env.REDIS_URL }),
        ...(env.S3_ENDPOINT === undefined ? {} : { s3Endpoint: env.S3_ENDPOINT }),
      }),
      ...(env.EGRESS_DENY ?? []),
    ],
    allow: env.EGRESS_ALLOW ?? [],
    projectAllow: [],
    projectMax: env.EGRESS_PROJECT_MAX ?? [],
  };
}

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
