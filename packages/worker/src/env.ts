import { hostname } from "node:os";
import {
  checkCommonEnv,
  commonEnvShape,
  envBoolean,
  envEnum,
  envInteger,
  envOptionalInteger,
  envOptionalString,
  envOptionalUrl,
  parseEnv,
} from "@conveyor/core";
import { CHROMIUM_SANDBOX_MODES } from "@conveyor/runner";
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
  /**
   * How often workers look for jobs whose holder died (lock expired) and put them back, ms. The
   * backstop behind WORKER_DEAD_AFTER_MS: a dead worker's job is moved within
   * WORKER_LOCK_DURATION_MS + this. Default 5000.
   */
  WORKER_STALLED_INTERVAL_MS: envInteger(5000, 1000, 600_000),
  /** Times a job may be recovered from a dead holder before it is failed. Default 2. */
  WORKER_MAX_STALLED_COUNT: envInteger(2, 0, 100),
  /**
   * How long a worker may stay silent before it is presumed dead, ms: each worker refreshes a
   * liveness key in Redis every quarter of it, and the reconciler hands the runs of a worker whose
   * key expired back to the queue at once (fenced by attempt). A worker whose event loop is blocked
   * for less than three quarters of it is never taken for dead. Default 20000.
   */
  WORKER_DEAD_AFTER_MS: envInteger(20_000, 2000, 600_000),
  /**
   * How often this worker's reconciler looks for runs whose job was lost (Redis restarted empty or
   * flushed, the API died between commit and enqueue) and for runs of dead workers, ms; 0
   * disables. One reconciler runs at a time across all workers. Default 5000.
   */
  RECONCILE_INTERVAL_MS: envInteger(5000, 0, 3_600_000),
  /**
   * How old a queued run must be before the reconciler re-enqueues it for want of a job, ms: gives
   * the API time to enqueue it (an enqueue twice is harmless: the job id is the run id). Default
   * 10000.
   */
  RECONCILE_GRACE_MS: envInteger(10_000, 1000, 3_600_000),
  /**
   * How often the schedules' tick runs, ms: a BullMQ job scheduler wakes one worker that acts on
   * every schedule due (docs/schedules.md); 0: this worker takes no part. Default 1000.
   */
  SCHEDULE_TICK_MS: envInteger(1000, 0, 60_000),
  /**
   * How late a scheduled time may be acted on, beyond its schedule's catchUpWindowSeconds, and
   * still start its run, ms; later it is logged `missed`. Default 15000.
   */
  SCHEDULE_TOLERANCE_MS: envInteger(15_000, 1000, 3_600_000),
  /**
   * Finished runs (with their actions, events and artifacts), suite runs and the schedules' fire
   * log older than this many days are deleted by the `run-retention` task, in batches; 0 keeps
   * them forever. Default 0.
   */
  RUN_RETENTION_DAYS: envInteger(0, 0, 36_500),
  /**
   * How often this worker looks for due service tasks (retention, reconciliation, the schedules'
   * clock: docs/operations.md#service-tasks), ms; 0: this worker runs none. Default 1000.
   */
  TASKS_POLL_MS: envInteger(1000, 0, 60_000),
  /**
   * Runs of one project executing at once across the whole fleet (a project's own
   * `limits.maxConcurrentRuns` overrides); a run over it is handed back to the queue without
   * using an attempt, and the slot goes to another project. 0: no limit. Default 0.
   */
  PROJECT_MAX_CONCURRENT_RUNS: envInteger(0, 0, 100_000),
  /** Chromium executable; default: Playwright's installed browser, then `chromium` on PATH. */
  CHROMIUM_PATH: envOptionalString(),
  /**
   * Chromium's sandbox: `auto` — on where it can run (a non-root user with user namespaces), else
   * off with a warning at start saying why; `required` — refuse to start without it; `off` —
   * never. Default auto.
   */
  CHROMIUM_SANDBOX: envEnum(CHROMIUM_SANDBOX_MODES, "auto"),
  /**
   * Keep one browser context with a blank page open ahead of time for the next run (see
   * `BrowserPoolOptions.prepareNextPage`): the next run skips context creation, for ~40 MiB more
   * per worker. Helps most when the worker has CPU to spare (concurrency below its cores); on a
   * worker whose cores are saturated by its runs it is about neutral (docs/benchmarks.md).
   * Default true.
   */
  WORKER_PREPARE_NEXT_PAGE: envBoolean(true),
  /**
   * How often this worker writes its heartbeat to Redis (`<QUEUE_PREFIX>:workers:<name>`), ms.
   * The API calls a worker unhealthy once its heartbeat is 3 intervals late. Default 10000.
   */
  HEALTH_CHECK_INTERVAL_MS: envInteger(10_000, 100, 600_000),
  /**
   * Port on which this worker serves its own Prometheus `GET /metrics` (run and action duration
   * histograms, process metrics). Unset: no metrics server. Default: unset.
   */
  WORKER_METRICS_PORT: envOptionalInteger(0, 65_535),
  /**
   * Where people reach Conveyor (`https://conveyor.example.com`): links in Slack messages and
   * emails (the run, its screenshot) start with it. Unset: the links are paths on the API.
   */
  PUBLIC_URL: envOptionalUrl(["http:", "https:"]),
  /** One notification delivery attempt's budget (connect, send, answer), ms. Default 10000. */
  NOTIFY_TIMEOUT_MS: envInteger(10_000, 1000, 60_000),
  /**
   * The waits before each delivery attempt, ms, comma-separated (the first is the first attempt's,
   * usually 0); as many attempts as entries. For tests. Unset: 0, 5 s, 5 min, 30 min, 2 h, 5 h,
   * 10 h, 10 h (docs/notifications.md).
   */
  NOTIFY_RETRY_SCHEDULE_MS: envOptionalString().transform((value, ctx) => {
    if (value === undefined) return undefined;
    const parts = value.split(",").map((part) => part.trim());
    if (parts.length > 20 || parts.some((part) => !/^\d{1,9}$/.test(part))) {
      ctx.addIssue({
        code: "custom",
        message: `expected 1-20 comma-separated waits in ms, e.g. "0,5000,300000", got "${value}"`,
      });
      return z.NEVER;
    }
    return parts.map(Number);
  }),
  /** SMTP server email channels are sent through. Unset: email deliveries fail, saying so. */
  SMTP_HOST: envOptionalString(),
  /** Its port. Default 587. */
  SMTP_PORT: envInteger(587, 1, 65_535),
  /** TLS from the first byte (port 465); false: STARTTLS when the server offers it. Default false. */
  SMTP_SECURE: envBoolean(false),
  /** SMTP user name, when the server wants a login. Default: unset (no login). */
  SMTP_USER: envOptionalString(),
  /** SMTP password (with SMTP_USER). Default: unset. */
  SMTP_PASSWORD: envOptionalString(),
  /** The sender of notification emails (`Conveyor <alerts@example.com>`). Required with SMTP_HOST. */
  SMTP_FROM: envOptionalString(),
};

/** Cross-field rules of the worker's variables (also applied by the quick start). */
export function checkWorkerEnv(
  env: {
    WORKER_STALLED_INTERVAL_MS: number;
    WORKER_LOCK_DURATION_MS: number;
    SMTP_HOST?: string | undefined;
    SMTP_FROM?: string | undefined;
    SMTP_USER?: string | undefined;
    SMTP_PASSWORD?: string | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  if (env.SMTP_HOST !== undefined && env.SMTP_FROM === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["SMTP_FROM"],
      message: "is required with SMTP_HOST: the sender of notification emails, e.g. Conveyor <alerts@example.com>",
    });
  }
  if ((env.SMTP_USER === undefined) !== (env.SMTP_PASSWORD === undefined)) {
    ctx.addIssue({
      code: "custom",
      path: [env.SMTP_USER === undefined ? "SMTP_USER" : "SMTP_PASSWORD"],
      message: "SMTP_USER and SMTP_PASSWORD go together (set both for a login, neither without)",
    });
  }
  if (env.WORKER_STALLED_INTERVAL_MS > env.WORKER_LOCK_DURATION_MS * 10) {
    ctx.addIssue({
      code: "custom",
      path: ["WORKER_STALLED_INTERVAL_MS"],
      message: "should not exceed 10 × WORKER_LOCK_DURATION_MS, or dead workers' runs wait very long",
    });
  }
}

export const workerEnvSchema = z.object(workerEnvShape).superRefine((env, ctx) => {
  checkCommonEnv(env, ctx);
  checkWorkerEnv(env, ctx);
});

export type WorkerEnv = z.output<typeof workerEnvSchema>;

export function parseWorkerEnv(env: Record<string, string | undefined>): WorkerEnv {
  return parseEnv(workerEnvSchema, env);
}

export function defaultWorkerName(): string {
  return `${hostname()}-${process.pid}`;
}
