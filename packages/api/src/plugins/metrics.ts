import { RUN_STATUSES, RUNS_QUEUE, TERMINAL_STATUSES, WORKER_HEALTH_STATUSES, type WorkerHealth } from "@conveyor/core";
import { countRunsByStatus, type DbHandle } from "@conveyor/db";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { Redis } from "ioredis";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { QueueCounts, RunQueue } from "../queue.ts";
import { countWorkers, readWorkers } from "../workers.ts";

/**
 * Prometheus metrics of the API, served at `GET /metrics` (docs/operations.md, "Metrics", lists
 * every series; the names are a contract — the Kubernetes HPA scales workers on
 * `conveyor_run_demand`, queued plus running runs, against WORKER_CONCURRENCY per pod).
 *
 * Fleet-wide series are derived from shared state, never from this process's own events, so every
 * API replica reports the same numbers and a replica that restarts loses nothing:
 * - queue depth, backlog and demand: read from Redis at scrape time (the autoscaler wants it fresh);
 * - worker gauges and slots: read from the heartbeats at scrape time;
 * - run counters: counted in Postgres every METRICS_REPORTING_INTERVAL_MS (a full count of the
 *   runs table is too heavy to repeat on every scrape of every replica).
 * HTTP request series and process metrics are this replica's own.
 */
export interface MetricsDeps {
  db: DbHandle;
  redis: Redis;
  queue: RunQueue;
  /** QUEUE_PREFIX: where workers write their heartbeats. */
  queuePrefix: string;
  /** How often runs are recounted in Postgres, ms (METRICS_REPORTING_INTERVAL_MS). */
  reportingIntervalMs: number;
  logger: FastifyBaseLogger;
  /** Whether METRICS_TOKEN is set (documents the route's security in OpenAPI). Default false. */
  tokenRequired?: boolean;
}

const QUEUE_STATES = ["waiting", "prioritized", "delayed", "active", "completed", "failed"] as const;

/**
 * Runs that want a worker slot now: due queued jobs (the backlog) plus active ones (held by a
 * worker: running, or about to be handed back). Both come from one read of the queue, so a job
 * moving from waiting to active is counted once.
 */
export function runDemand(counts: Pick<QueueCounts, "backlog" | "active">): number {
  return counts.backlog + counts.active;
}

/**
 * Slots of the fleet: each worker's WORKER_CONCURRENCY, from its heartbeat. An unhealthy worker
 * (silent for 3 intervals: frozen, dead or cut off) serves nothing, so its slots do not count.
 */
export function workerSlots(workers: Pick<WorkerHealth, "status" | "concurrency">[]): number {
  let slots = 0;
  for (const worker of workers) if (worker.status !== "unhealthy") slots += worker.concurrency;
  return slots;
}

/** Builds the registry and the periodic run count; call `start` once the app is ready. */
export function createApiMetrics(deps: MetricsDeps) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "conveyor_" });

  const httpRequests = new Counter({
    name: "conveyor_http_requests_total",
    help: "HTTP requests answered by this API replica, by method, route pattern and status code.",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: "conveyor_http_request_duration_seconds",
    help: "Time to answer HTTP requests on this API replica, by method, route pattern and status code.",
    labelNames: ["method", "route", "status"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  // Collected at scrape time from Redis: one read serves both gauges.
  let queueRead: Promise<Awaited<ReturnType<RunQueue["counts"]>> | undefined> | undefined;
  const readQueueOnce = () => {
    queueRead ??= deps.queue
      .counts()
      .catch((error: unknown) => {
        deps.logger.warn({ err: error }, "metrics: could not read the queue");
        return undefined;
      })
      .finally(() => {
        queueRead = undefined;
      });
    return queueRead;
  };
  new Gauge({
    name: "conveyor_queue_jobs",
    help: "Jobs in the queue by state (BullMQ keeps completed jobs an hour, failed ones a day).",
    labelNames: ["queue", "state"],
    registers: [registry],
    async collect() {
      const counts = await readQueueOnce();
      this.reset();
      if (!counts) return;
      for (const state of QUEUE_STATES) this.set({ queue: RUNS_QUEUE, state }, counts[state]);
    },
  });
  new Gauge({
    name: "conveyor_queue_backlog",
    help: "Runs a worker could start now: waiting + prioritized + delayed jobs already due (the queued part of conveyor_run_demand).",
    labelNames: ["queue"],
    registers: [registry],
    async collect() {
      const counts = await readQueueOnce();
      this.reset();
      if (counts) this.set({ queue: RUNS_QUEUE }, counts.backlog);
    },
  });

  let workersRead: ReturnType<typeof readWorkers> | undefined;
  const readWorkersOnce = () => {
    workersRead ??= readWorkers(deps.redis, deps.queuePrefix)
      .catch((error: unknown) => {
        deps.logger.warn({ err: error }, "metrics: could not read worker heartbeats");
        throw error;
      })
      .finally(() => {
        workersRead = undefined;
      });
    return workersRead;
  };
  new Gauge({
    name: "conveyor_workers",
    help: "Workers with a live heartbeat, by health status (rules in docs/operations.md, Health).",
    labelNames: ["status"],
    registers: [registry],
    async collect() {
      this.reset();
      const workers = await readWorkersOnce().catch(() => undefined);
      if (!workers) return;
      const counts = countWorkers(workers);
      for (const status of WORKER_HEALTH_STATUSES) this.set({ status }, counts[status]);
    },
  });
  new Gauge({
    name: "conveyor_worker_active_runs",
    help: "Runs each worker executes now, as of its last heartbeat.",
    labelNames: ["worker"],
    registers: [registry],
    async collect() {
      this.reset();
      const workers = await readWorkersOnce().catch(() => undefined);
      for (const worker of workers ?? []) this.set({ worker: worker.name }, worker.activeRuns);
    },
  });

  // What the worker autoscaler follows: the work, not only the queue. A fleet busy with long runs
  // and an empty queue has a backlog of 0 but a demand equal to its running runs, so it is not
  // scaled down under them (docs/operations.md, Scaling).
  new Gauge({
    name: "conveyor_run_demand",
    help: "Runs that want a worker slot now: the backlog (conveyor_queue_backlog) plus the jobs workers hold (active). What the worker autoscaler follows.",
    labelNames: ["queue"],
    registers: [registry],
    async collect() {
      const counts = await readQueueOnce();
      this.reset();
      if (counts) this.set({ queue: RUNS_QUEUE }, runDemand(counts));
    },
  });
  new Gauge({
    name: "conveyor_worker_slots",
    help: "Runs the fleet can execute at once: the sum of WORKER_CONCURRENCY over workers with a live heartbeat that are not unhealthy.",
    registers: [registry],
    async collect() {
      this.reset();
      const workers = await readWorkersOnce().catch(() => undefined);
      if (workers) this.set(workerSlots(workers));
    },
  });
  new Gauge({
    name: "conveyor_run_demand_per_slot",
    help: "conveyor_run_demand / conveyor_worker_slots: above 1, runs wait for a slot; below 1, slots are idle. Absent while there is no slot.",
    labelNames: ["queue"],
    registers: [registry],
    async collect() {
      const [counts, workers] = await Promise.all([readQueueOnce(), readWorkersOnce().catch(() => undefined)]);
      this.reset();
      if (!counts || !workers) return;
      const slots = workerSlots(workers);
      if (slots > 0) this.set({ queue: RUNS_QUEUE }, runDemand(counts) / slots);
    },
  });

  // Counted in Postgres: totals of the whole installation, the same on every replica.
  const runs = new Gauge({
    name: "conveyor_runs",
    help: "Runs in the database by status, counted every METRICS_REPORTING_INTERVAL_MS.",
    labelNames: ["status"],
    registers: [registry],
  });
  const finished = new Counter({
    name: "conveyor_runs_finished_total",
    help: "Runs that reached a terminal status, by status (counted in the database: the same on every API replica).",
    labelNames: ["status"],
    registers: [registry],
  });
  const started = new Counter({
    name: "conveyor_runs_started_total",
    help: "Runs started at least once (counted in the database: the same on every API replica).",
    registers: [registry],
  });
  const attempts = new Counter({
    name: "conveyor_run_attempts_started_total",
    help: "Run attempts started, retries and recoveries from dead workers included (counted in the database).",
    registers: [registry],
  });
  const lastCount = new Gauge({
    name: "conveyor_metrics_last_count_timestamp_seconds",
    help: "When the run counters were last counted in the database (Unix time); stale means the count fails.",
    registers: [registry],
  });
  for (const status of TERMINAL_STATUSES) finished.inc({ status }, 0);

  // Counters only go up: the database total is reached by adding the difference. A total that
  // shrinks (runs deleted with their project) keeps the counter where it is.
  const reported = { finished: new Map<string, number>(), started: 0, attempts: 0 };
  const raise = (counter: Counter<string>, from: number, to: number, labels?: Record<string, string>) => {
    if (to <= from) return from;
    if (labels) counter.inc(labels, to - from);
    else counter.inc(to - from);
    return to;
  };
  async function refresh(): Promise<void> {
    const totals = await countRunsByStatus(deps.db.db);
    for (const status of RUN_STATUSES) runs.set({ status }, totals.byStatus.get(status) ?? 0);
    for (const status of TERMINAL_STATUSES) {
      const to = totals.byStatus.get(status) ?? 0;
      reported.finished.set(status, raise(finished, reported.finished.get(status) ?? 0, to, { status }));
    }
    reported.started = raise(started, reported.started, totals.started);
    reported.attempts = raise(attempts, reported.attempts, totals.attempts);
    lastCount.set(Date.now() / 1000);
  }

  let timer: NodeJS.Timeout | undefined;
  let refreshing: Promise<void> | undefined;
  let stopped = false;
  const tick = () => {
    refreshing = refresh()
      .catch((error: unknown) => deps.logger.warn({ err: error }, "metrics: could not count runs"))
      .finally(() => {
        refreshing = undefined;
        if (!stopped) timer = setTimeout(tick, deps.reportingIntervalMs);
      });
  };

  return {
    registry,
    /** Records one answered request. */
    observeRequest(method: string, route: string, status: number, seconds: number) {
      const labels = { method, route, status: String(status) };
      httpRequests.inc(labels);
      httpDuration.observe(labels, seconds);
    },
    /** Counts runs now, then every interval. */
    start() {
      stopped = false;
      tick();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await refreshing;
    },
  };
}

/** Registers `GET /metrics` and the HTTP request hooks. */
export function registerMetrics(app: FastifyInstance, deps: MetricsDeps): void {
  const metrics = createApiMetrics(deps);
  // Callback-style (not async) hooks: no promise per request on the hot path.
  app.addHook("onResponse", (request, reply, done) => {
    // The route pattern, never the raw URL: ids in paths would make a series per run.
    const route = request.routeOptions.url ?? "unmatched";
    metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  app.addHook("onReady", async () => metrics.start());
  app.addHook("onClose", async () => metrics.stop());
  app.get(
    "/metrics",
    {
      config: { auth: "metrics" },
      schema: {
        summary: "Prometheus metrics",
        description:
          "Prometheus text format. Needs `Authorization: Bearer <METRICS_TOKEN>` when METRICS_TOKEN is set; public otherwise.",
        tags: ["metrics"],
        security: deps.tokenRequired ? [{ metricsToken: [] }] : [],
      },
    },
    async (_request, reply) => {
      const text = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(text);
    },
  );
}
