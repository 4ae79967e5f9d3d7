import { apiEnvShape, checkApiEnv } from "@conveyor/api";
import { checkCommonEnv, envString, parseEnv } from "@conveyor/core";
import { checkWorkerEnv, workerEnvShape } from "@conveyor/worker";
import { z } from "zod";

/** The quick start's environment: everything the API and the worker read, plus DATA_DIR. */
export const startEnvSchema = z
  .object({
    ...apiEnvShape,
    ...workerEnvShape,
    /** Quick start only: where the embedded database (and a private Redis, if one is started) keep data. Default ./.conveyor. */
    DATA_DIR: envString(".conveyor"),
  })
  .superRefine((env, ctx) => {
    checkCommonEnv(env, ctx);
    checkApiEnv(env, ctx);
    checkWorkerEnv(env, ctx);
  });

export type StartEnv = z.output<typeof startEnvSchema>;

export function parseStartEnv(env: Record<string, string | undefined>): StartEnv {
  return parseEnv(startEnvSchema, env);
}
