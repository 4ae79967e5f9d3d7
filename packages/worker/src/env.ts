import { hostname } from "node:os";
import { commonEnvShape, envInteger, envOptionalString, parseEnv } from "@conveyor/core";
import { z } from "zod";

export const workerEnvShape = {
  ...commonEnvShape,
  /** Runs executed at once by this process (one browser context each). Default 2. */
  WORKER_CONCURRENCY: envInteger(2, 1, 64),
  /** Name in logs and run events. Default `<hostname>-<pid>`. */
  WORKER_NAME: envOptionalString(),
  /** On SIGTERM, how long active runs may finish before they are handed back to the queue, ms. Default 30000. */
  SHUTDOWN_TIMEOUT_MS: envInteger(30_000, 0, 3_600_000),
  /** How long a worker's claim on a job lasts without renewal (renewed every half of it), ms. Default 30000. */
  WORKER_LOCK_DURATION_MS: envInteger(30_000, 1000, 600_000),
  /** How often workers look for jobs whose holder died (lock expired), ms. Default 30000. */
  WORKER_STALLED_INTERVAL_MS: envInteger(30_000, 1000, 600_000),
  /** Times a job may be recovered from a dead holder before it is failed. Default 2. */
  WORKER_MAX_STALLED_COUNT: envInteger(2, 0, 100),
  /** Chromium executable; default: Playwright's installed browser, then `chromium` on PATH. */
  CHROMIUM_PATH: envOptionalString(),
};

/** Cross-field rules of the worker's variables (also applied by the quick start). */
export function checkWorkerEnv(
  env: { WORKER_STALLED_INTERVAL_MS: number; WORKER_LOCK_DURATION_MS: number },
  ctx: z.RefinementCtx,
): void {
  if (env.WORKER_STALLED_INTERVAL_MS > env.WORKER_LOCK_DURATION_MS * 10) {
    ctx.addIssue({
      code: "custom",
      path: ["WORKER_STALLED_INTERVAL_MS"],
      message: "should not exceed 10 × WORKER_LOCK_DURATION_MS, or dead workers' runs wait very long",
    });
  }
}

export const workerEnvSchema = z.object(workerEnvShape).superRefine(checkWorkerEnv);

export type WorkerEnv = z.output<typeof workerEnvSchema>;

export function parseWorkerEnv(env: Record<string, string | undefined>): WorkerEnv {
  return parseEnv(workerEnvSchema, env);
}

export function defaultWorkerName(): string {
  return `${hostname()}-${process.pid}`;
}
