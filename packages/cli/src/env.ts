import { apiEnvShape, checkApiEnv } from "@conveyor/api";
import { checkCommonEnv, envEgressList, envString, LOOPBACK_ALLOW, parseEgressEntry, parseEnv } from "@conveyor/core";
import { checkWorkerEnv, workerEnvShape } from "@conveyor/worker";
import { z } from "zod";

/** The quick start's environment: everything the API and the worker read, plus DATA_DIR. */
export const startEnvSchema = z
  .object({
    ...apiEnvShape,
    ...workerEnvShape,
    /** Quick start only: where the embedded database (and a private Redis, if one is started) keep data. Default ./.conveyor. */
    DATA_DIR: envString(".conveyor"),
    /** The quick start listens on loopback only (it has a generated admin token): set HOST to open it. Default 127.0.0.1. */
    HOST: envString("127.0.0.1"),
    /**
     * The quick start drives local apps (and the README walkthrough opens its own API docs), so
     * unless EGRESS_ALLOW is set, loopback is allowed. Default 127.0.0.0/8 and ::1.
     */
    EGRESS_ALLOW: envEgressList().transform((entries) => entries ?? LOOPBACK_ALLOW.map(parseEgressEntry)),
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
