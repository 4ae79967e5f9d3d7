import { createArtifactStore, describeArtifactStore } from "@conveyor/artifacts";
import {
  createLogger,
  type EgressEntry,
  egressPolicyFromEnv,
  type Logger,
  parseSecretsKey,
  type ShutdownManager,
} from "@conveyor/core";
import type { DbHandle } from "@conveyor/db";
import { EgressProxy } from "@conveyor/egress";
import { BrowserPool, resolveChromium } from "@conveyor/runner";
import type { Redis } from "ioredis";
import nodemailer, { type Transporter } from "nodemailer";
import { defaultWorkerName, type WorkerEnv } from "./env.ts";
import { Heartbeat } from "./heartbeat.ts";
import { startMetricsServer, WorkerMetrics } from "./metrics.ts";
import { Notifier } from "./notify/notifier.ts";
import { Orchestrator } from "./orchestrator.ts";
import { Reconciler } from "./reconciler.ts";
import { RunWorker } from "./run-worker.ts";
import { Scheduler } from "./scheduler.ts";
import { builtInServiceTasks } from "./service-tasks.ts";
import { combineObservers, type RunObserver, WorkerStats } from "./stats.ts";

export interface WorkerService {
  runWorker: RunWorker;
  pool: BrowserPool;
  /** The forward proxy every request of the worker's browser goes through. */
  egress: EgressProxy;
  heartbeat: Heartbeat;
  /** Runs the service's own tasks (retention, reconciliation, the schedules' clock) with the fleet. */
  orchestrator: Orchestrator;
  /** Sends notification deliveries (webhooks, Slack, email). */
  notifier: Notifier;
  /** URL of this worker's `GET /metrics`, when WORKER_METRICS_PORT is set. */
  metricsUrl: string | undefined;
  /** Drains (see {@link RunWorker.drain}) then closes the browser. */
  close(): Promise<void>;
}

/** Starts a run worker on already-open connections (the caller owns and closes them). */
export async function startWorker(
  env: WorkerEnv,
  deps: { db: DbHandle; redis: Redis; logger: Logger; name: string },
): Promise<WorkerService> {
  const chromium = resolveChromium(env.CHROMIUM_PATH ? { chromiumPath: env.CHROMIUM_PATH } : {});
  const policy = egressPolicyFromEnv(env);
  const egress = await EgressProxy.start({ policy, logger: deps.logger });
  logEgressPolicy(deps.logger, policy);
  const pool = new BrowserPool({
    executablePath: chromium.path,
    logger: deps.logger,
    prepareNextPage: env.WORKER_PREPARE_NEXT_PAGE,
    egress,
    sandbox: env.CHROMIUM_SANDBOX,
  });
  try {
    await pool.warm();
  } catch (error) {
    await pool.close();
    await egress.close();
    throw error;
  }
  const sandbox = pool.sandbox;
  deps.logger.info(
    { chromium: chromium.path, source: chromium.source, sandbox: sandbox?.enabled ?? false },
    "using Chromium",
  );
  if (sandbox && !sandbox.enabled) {
    deps.logger.warn(
      { reason: sandbox.reason, mode: sandbox.mode },
      `Chromium runs without its sandbox: ${sandbox.reason}${sandbox.mode === "auto" ? " (set CHROMIUM_SANDBOX=required to refuse to start instead)" : ""}`,
    );
  }
  const artifacts = createArtifactStore(env);
  deps.logger.info(describeArtifactStore(env), "artifact store");
  const stats = new WorkerStats();
  const metrics = env.WORKER_METRICS_PORT === undefined ? undefined : new WorkerMetrics();
  const observers: RunObserver[] = metrics ? [stats, metrics] : [stats];
  const runWorker = new RunWorker({
    db: deps.db,
    connection: deps.redis,
    prefix: env.QUEUE_PREFIX,
    pool,
    artifacts,
    egressPolicy: policy,
    logger: deps.logger,
    name: deps.name,
    concurrency: env.WORKER_CONCURRENCY,
    lockDurationMs: env.WORKER_LOCK_DURATION_MS,
    stalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS,
    maxStalledCount: env.WORKER_MAX_STALLED_COUNT,
    secretsKey: env.SECRETS_KEY ? parseSecretsKey(env.SECRETS_KEY) : undefined,
    observer: combineObservers(observers),
    defaultMaxConcurrentRuns: env.PROJECT_MAX_CONCURRENT_RUNS,
  });
  await runWorker.start();
  const reconciler = new Reconciler({
    db: deps.db,
    connection: deps.redis,
    prefix: env.QUEUE_PREFIX,
    logger: deps.logger,
    name: deps.name,
    intervalMs: env.RECONCILE_INTERVAL_MS,
    graceMs: env.RECONCILE_GRACE_MS,
    backoffMs: env.RETRY_BACKOFF_MS,
    deadAfterMs: env.WORKER_DEAD_AFTER_MS,
    lockDurationMs: env.WORKER_LOCK_DURATION_MS,
    maxTakeovers: env.WORKER_MAX_STALLED_COUNT,
  });
  const scheduler = new Scheduler({
    db: deps.db,
    connection: deps.redis,
    prefix: env.QUEUE_PREFIX,
    logger: deps.logger,
    tickMs: env.SCHEDULE_TICK_MS,
    toleranceMs: env.SCHEDULE_TOLERANCE_MS,
    backoffMs: env.RETRY_BACKOFF_MS,
    // The fleet's schedule-clock task upserts it; a worker without tasks keeps its own timer.
    ...(env.TASKS_POLL_MS > 0 ? { healEveryMs: 0 } : {}),
  });
  await scheduler.start();
  const notifier = new Notifier({
    db: deps.db,
    connection: deps.redis,
    prefix: env.QUEUE_PREFIX,
    logger: deps.logger,
    egressPolicy: policy,
    secretsKey: env.SECRETS_KEY ? parseSecretsKey(env.SECRETS_KEY) : undefined,
    ...(env.NOTIFY_RETRY_SCHEDULE_MS ? { retryScheduleMs: env.NOTIFY_RETRY_SCHEDULE_MS } : {}),
    timeoutMs: env.NOTIFY_TIMEOUT_MS,
    publicUrl: env.PUBLIC_URL,
    mail: mailTransport(env),
  });
  await notifier.start();
  const orchestrator = new Orchestrator({
    db: deps.db,
    logger: deps.logger,
    name: deps.name,
    tasks: builtInServiceTasks(env, { db: deps.db, artifacts, reconciler, scheduler, notifier }),
    pollMs: env.TASKS_POLL_MS,
  });
  if (env.TASKS_POLL_MS > 0) await orchestrator.start();
  await runWorker.worker.waitUntilReady();
  const metricsServer =
    metrics && env.WORKER_METRICS_PORT !== undefined
      ? await startMetricsServer({
          registry: metrics.registry,
          port: env.WORKER_METRICS_PORT,
          token: env.METRICS_TOKEN,
          public: env.METRICS_PUBLIC,
          logger: deps.logger,
        })
      : undefined;
  const heartbeat = new Heartbeat({
    connection: deps.redis,
    prefix: env.QUEUE_PREFIX,
    name: deps.name,
    concurrency: env.WORKER_CONCURRENCY,
    intervalMs: env.HEALTH_CHECK_INTERVAL_MS,
    stats,
    activeRuns: () => runWorker.activeRuns,
    logger: deps.logger,
    deadAfterMs: env.WORKER_DEAD_AFTER_MS,
  });
  await heartbeat.start();
  deps.logger.info({ concurrency: env.WORKER_CONCURRENCY }, "worker ready");
  return {
    runWorker,
    pool,
    egress,
    heartbeat,
    orchestrator,
    notifier,
    metricsUrl: metricsServer?.url,
    close: async () => {
      // Running service tasks and runs get the same deadline, side by side; tasks still running
      // then are aborted and their leases released. Delivery attempts under way end within
      // NOTIFY_TIMEOUT_MS (a worker killed during one: the next attempt follows the claim's lease).
      await Promise.all([
        orchestrator.stop(env.SHUTDOWN_TIMEOUT_MS),
        runWorker.drain(env.SHUTDOWN_TIMEOUT_MS),
        notifier.stop(),
      ]);
      await reconciler.stop();
      await scheduler.stop();
      await pool.close();
      await egress.close();
      // Last, so a draining worker stays listed with its active runs until it is gone.
      await heartbeat.stop();
      await metricsServer?.close();
    },
  };
}

/** The SMTP transport of email channels (SMTP_*), or none without SMTP_HOST. */
function mailTransport(env: WorkerEnv): { transport: Transporter; from: string } | undefined {
  if (env.SMTP_HOST === undefined || env.SMTP_FROM === undefined) return undefined;
  return {
    transport: nodemailer.createTransport({
      host: env.SMTP_HOST,
      port: env.SMTP_PORT,
      secure: env.SMTP_SECURE,
      ...(env.SMTP_USER !== undefined && env.SMTP_PASSWORD !== undefined
        ? { auth: { user: env.SMTP_USER, pass: env.SMTP_PASSWORD } }
        : {}),
      connectionTimeout: env.NOTIFY_TIMEOUT_MS,
      greetingTimeout: env.NOTIFY_TIMEOUT_MS,
      socketTimeout: env.NOTIFY_TIMEOUT_MS,
    }),
    from: env.SMTP_FROM,
  };
}

/** This worker's name in logs, run events and heartbeats: WORKER_NAME, else `<hostname>-<pid>`. */
/**
 * The worker's shutdown budget: the drain (SHUTDOWN_TIMEOUT_MS), then 12 s to hand the rest back,
 * close the browser and the connections. Keep the platform's grace period above it
 * (k8s/worker.yaml: 45 s against 30 s + 12 s).
 */
export function workerShutdownDeadlineMs(env: Pick<WorkerEnv, "SHUTDOWN_TIMEOUT_MS">): number {
  return env.SHUTDOWN_TIMEOUT_MS + 12_000;
}

export function workerName(env: Pick<WorkerEnv, "WORKER_NAME">): string {
  return env.WORKER_NAME ?? defaultWorkerName();
}

/**
 * The worker's logger: JSON lines bound to `service: "worker"` and its name, or, with `pretty`
 * (the one-process `pnpm start` on a terminal), human-readable lines starting with `[worker]`.
 */
export function createWorkerLogger(
  env: Pick<WorkerEnv, "LOG_LEVEL">,
  name: string,
  options: { pretty?: boolean } = {},
): Logger {
  return createLogger({
    level: env.LOG_LEVEL,
    base: { service: "worker", worker: name },
    ...(options.pretty ? { prettyPrefix: "[worker]" } : {}),
  });
}

/**
 * The composition root of a run worker, shared by `pnpm start:worker` (bin/worker.ts) and the
 * one-process `pnpm start` (cli/start.ts), so what the environment means cannot drift between
 * them: starts the worker on the caller's connections and registers its shutdown step `worker`
 * (stop taking runs, drain for SHUTDOWN_TIMEOUT_MS, hand the rest back, close the browser). The
 * caller registers the steps that close its connections after this one.
 */
export async function composeWorker(
  env: WorkerEnv,
  deps: { db: DbHandle; redis: Redis; logger: Logger; name: string; shutdown: Pick<ShutdownManager, "register"> },
): Promise<WorkerService> {
  const service = await startWorker(env, { db: deps.db, redis: deps.redis, logger: deps.logger, name: deps.name });
  deps.shutdown.register("worker", () => service.close());
  return service;
}

/** One line at start saying what recordings may reach; a warning when nothing is restricted. */
function logEgressPolicy(logger: Logger, policy: ReturnType<typeof egressPolicyFromEnv>): void {
  const texts = (entries: readonly EgressEntry[]) => entries.map((entry) => entry.text);
  const fields = {
    egressPolicy: policy.mode,
    egressAllow: texts(policy.allow),
    egressDeny: texts(policy.deny),
    egressProjectMax: texts(policy.projectMax),
  };
  if (policy.mode === "off") {
    logger.warn(
      fields,
      "EGRESS_POLICY=off: recordings may reach any address but the always-denied ones, including this network's private services; use it only where one user runs their own recordings",
    );
  } else {
    logger.info(fields, "egress policy: every request of the browser goes through the worker's proxy");
  }
}
