import { commonEnvShape, envInteger, envOptionalString, parseEnv } from "@conveyor/core";
import { z } from "zod";

export const apiEnvShape = {
  ...commonEnvShape,
  /** HTTP port. Default 3000. */
  PORT: envInteger(3000, 0, 65_535),
  /** Interface to listen on. Default 0.0.0.0. */
  HOST: z
    .string()
    .optional()
    .transform((v) => v || "0.0.0.0"),
  /** Token that authorizes POST /api/projects. Unset: project creation is disabled. */
  ADMIN_TOKEN: envOptionalString(),
  /** Whole-run timeout when a run does not set one, ms. Default 300000 (5 min). */
  DEFAULT_RUN_TIMEOUT_MS: envInteger(300_000, 1000, 3_600_000),
  /** Per-action timeout of runs, ms. Default 15000. */
  ACTION_TIMEOUT_MS: envInteger(15_000, 100, 600_000),
  /** Largest accepted request body, bytes. Default 5242880 (5 MiB). */
  BODY_LIMIT_BYTES: envInteger(5 * 1024 * 1024, 1024, 100 * 1024 * 1024),
};

export const apiEnvSchema = z.object(apiEnvShape).superRefine((env, ctx) => {
  if (env.ADMIN_TOKEN !== undefined && env.ADMIN_TOKEN.length < 16) {
    ctx.addIssue({ code: "custom", path: ["ADMIN_TOKEN"], message: "must be at least 16 characters" });
  }
});

export type ApiEnv = z.output<typeof apiEnvSchema>;

/** Parses the API's environment once at start; throws ConfigError listing every bad variable. */
export function parseApiEnv(env: Record<string, string | undefined>): ApiEnv {
  return parseEnv(apiEnvSchema, env);
}
