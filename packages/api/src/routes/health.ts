import { classifyInstallation, WORKER_HEALTH_STATUSES, type WorkerHealth } from "@conveyor/core";
import { type DbHandle, listServiceTasks, type ServiceTaskState } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Redis } from "ioredis";
import { z } from "zod";
import type { AuthMode } from "../plugins/auth.ts";
import type { QueueCounts, RunQueue } from "../queue.ts";
import { errorResponses } from "../views.ts";
import { countWorkers, readWorkers } from "../workers.ts";
import { serviceTaskSchema, serviceTaskView } from "./admin-tasks.ts";

/**
 * Health endpoints.
 * - Liveness and readiness are public: probes carry no credentials, and neither answer leaks data.
 * - `detailed` and `worker` name worker hosts and pids and show queue depth, so they need the
 *   admin token unless the operator opts in with HEALTH_PUBLIC (e.g. behind a private network).
 */
export interface HealthDeps {
  db: DbHandle;
  redis: Redis;
  queue: RunQueue;
  /** QUEUE_PREFIX: where workers write their heartbeats. */
  queuePrefix: string;
  /** True once shutdown began: readiness fails so load balancers stop sending traffic. */
  isShuttingDown: () => boolean;
  /** Authorization of `detailed` and `worker`: "admin" (default) or "public" (HEALTH_PUBLIC). */
  operatorAuth: Extract<AuthMode, "admin" | "public">;
  /** Version reported by `detailed`. */
  version: string;
}

const serviceCheckSchema = z.object({
  status: z.enum(["up", "down"]),
  latencyMs: z.number(),
  error: z.string().optional(),
});

const healthStatusSchema = z.enum(WORKER_HEALTH_STATUSES);

export const readinessSchema = z.object({
  status: z.enum(["ready", "not_ready"]),
  reason: z.string().optional().describe("Why not ready, when it is not a service (shutting down)"),
  services: z.object({ database: serviceCheckSchema, redis: serviceCheckSchema }),
});

export const workerHealthSchema = z.object({
  name: z.string(),
  host: z.string(),
  pid: z.number(),
  status: healthStatusSchema,
  reasons: z.array(z.string()),
  concurrency: z.number(),
  activeRuns: z.number(),
  processed: z.number(),
  succeeded: z.number(),
  failed: z.number(),
  recentFinished: z.number(),
  recentErrored: z.number(),
  eventLoopLagP99Ms: z.number(),
  lastError: z.string().nullable(),
  lastErrorAt: z.string().nullable(),
  startedAt: z.string(),
  lastHeartbeatAt: z.string(),
  heartbeatAgeMs: z.number(),
  heartbeatIntervalMs: z.number(),
});

export const queueCountsSchema = z.object({
  waiting: z.number(),
  prioritized: z.number(),
  delayed: z.number(),
  active: z.number(),
  completed: z.number(),
  failed: z.number(),
  backlog: z.number(),
});

export const detailedHealthSchema = z.object({
  status: healthStatusSchema,
  reasons: z.array(z.string()),
  timestamp: z.string(),
  version: z.string(),
  services: z.object({ database: serviceCheckSchema, redis: serviceCheckSchema }),
  queues: z.object({ runs: queueCountsSchema.nullable() }),
  workers: z.array(workerHealthSchema),
  tasks: z
    .array(serviceTaskSchema)
    .describe("The service's background tasks (GET /api/admin/tasks); a disabled one makes the installation degraded"),
});

export const workerSummarySchema = z.object({
  status: healthStatusSchema,
  reasons: z.array(z.string()),
  workerCount: z.number(),
  healthyWorkers: z.number(),
  degradedWorkers: z.number(),
  unhealthyWorkers: z.number(),
  eventsProcessed: z.number(),
  eventsSucceeded: z.number(),
  eventsFailed: z.number(),
  activeEvents: z.number(),
  timestamp: z.string(),
  error: z.string().optional(),
});

type ServiceCheck = z.infer<typeof serviceCheckSchema>;

async function check(probe: () => Promise<unknown>, timeoutMs = 2000): Promise<ServiceCheck> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { status: "up", latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { status: "down", latencyMs: Math.round(performance.now() - started), error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** Resolves within `timeoutMs` or not at all (undefined), so one slow Redis cannot hang a probe. */
async function within<T>(work: Promise<T>, timeoutMs = 2000): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), timeoutMs);
      }),
    ]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

function workerView(worker: WorkerHealth): z.infer<typeof workerHealthSchema> {
  return {
    name: worker.name,
    host: worker.host,
    pid: worker.pid,
    status: worker.status,
    reasons: worker.reasons,
    concurrency: worker.concurrency,
    activeRuns: worker.activeRuns,
    processed: worker.processed,
    succeeded: worker.succeeded,
    failed: worker.failed,
    recentFinished: worker.recentFinished,
    recentErrored: worker.recentErrored,
    eventLoopLagP99Ms: worker.eventLoopLagP99Ms,
    lastError: worker.lastError ?? null,
    lastErrorAt: worker.lastErrorAt?.toISOString() ?? null,
    startedAt: worker.startedAt.toISOString(),
    lastHeartbeatAt: worker.heartbeatAt.toISOString(),
    heartbeatAgeMs: worker.heartbeatAgeMs,
    heartbeatIntervalMs: worker.intervalMs,
  };
}

/**
 * The workers' side alone: unhealthy when no healthy worker is left for work that is there (or
 * every listed worker is sick), degraded when some are sick, healthy otherwise — a fleet scaled to
 * zero with nothing waiting included.
 */
export function classifyFleet(
  workers: Pick<WorkerHealth, "name" | "status">[],
  backlog: number,
): { status: z.infer<typeof healthStatusSchema>; reasons: string[] } {
  const counts = countWorkers(workers);
  const reasons = workers.filter((w) => w.status !== "healthy").map((w) => `worker ${w.name} is ${w.status}`);
  if (counts.healthy === 0 && (workers.length > 0 || backlog > 0)) {
    if (backlog > 0) reasons.push(`${backlog} run(s) waiting and no healthy worker`);
    return { status: "unhealthy", reasons };
  }
  return { status: reasons.length > 0 ? "degraded" : "healthy", reasons };
}

export function registerHealth(app: FastifyInstance, deps: HealthDeps): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  app.get(
    "/api/health",
    {
      config: { auth: "public" },
      schema: {
        summary: "Liveness",
        tags: ["health"],
        response: { 200: z.object({ status: z.literal("ok") }), ...errorResponses },
      },
    },
    async () => ({ status: "ok" }),
  );

  app.get(
    "/api/health/ready",
    {
      config: { auth: "public" },
      schema: {
        summary: "Readiness: Postgres and Redis answer",
        tags: ["health"],
        response: { 200: readinessSchema, 503: readinessSchema, ...errorResponses },
      },
    },
    async (_request, reply) => {
      const [database, redis] = await Promise.all([check(() => deps.db.ping()), check(() => deps.redis.ping())]);
      const shuttingDown = deps.isShuttingDown();
      const ready = !shuttingDown && database.status === "up" && redis.status === "up";
      return reply.code(ready ? 200 : 503).send({
        status: ready ? "ready" : "not_ready",
        ...(shuttingDown ? { reason: "shutting down" } : {}),
        services: { database, redis },
      });
    },
  );

  const operatorSecurity = deps.operatorAuth === "admin" ? [{ adminToken: [] }] : [];

  typed.get(
    "/api/health/detailed",
    {
      config: { auth: deps.operatorAuth },
      schema: {
        summary: "Health of the whole installation: database, Redis, queue depth, every worker",
        description:
          "`unhealthy` (HTTP 503) when Postgres or Redis does not answer; `degraded` when a worker is degraded or unhealthy, runs wait with no healthy worker, or a service task is disabled; `healthy` otherwise. Needs the admin token unless HEALTH_PUBLIC is set.",
        tags: ["health"],
        security: operatorSecurity,
        response: { 200: detailedHealthSchema, 503: detailedHealthSchema, ...errorResponses },
      },
    },
    async (_request, reply) => {
      const now = new Date();
      const [database, redis] = await Promise.all([check(() => deps.db.ping()), check(() => deps.redis.ping())]);
      const [counts, workers] =
        redis.status === "up"
          ? await Promise.all([
              within<QueueCounts>(deps.queue.counts(now)),
              within(readWorkers(deps.redis, deps.queuePrefix, now)),
            ])
          : [undefined, undefined];
      const tasks: ServiceTaskState[] =
        database.status === "up" ? ((await within(listServiceTasks(deps.db.db))) ?? []) : [];
      const verdict = classifyInstallation({
        database: database.status,
        redis: redis.status,
        backlog: counts?.backlog,
        workers: workers ?? [],
        disabledTasks: tasks
          .filter((task) => !task.enabled)
          .map((task) => ({ name: task.name, reason: task.disabledReason })),
      });
      return reply.code(verdict.status === "unhealthy" ? 503 : 200).send({
        status: verdict.status,
        reasons: verdict.reasons,
        timestamp: now.toISOString(),
        version: deps.version,
        services: { database, redis },
        queues: { runs: counts ?? null },
        workers: (workers ?? []).map(workerView),
        tasks: tasks.map(serviceTaskView),
      });
    },
  );

  typed.get(
    "/api/health/worker",
    {
      config: { auth: deps.operatorAuth },
      schema: {
        summary: "Health of the worker fleet, summed over live workers",
        description:
          "`unhealthy` (HTTP 503) when no healthy worker is left (and workers are listed or runs wait), or Redis cannot be read; `degraded` when some worker is degraded or unhealthy. Counters are per worker process since it started, summed. Needs the admin token unless HEALTH_PUBLIC is set.",
        tags: ["health"],
        security: operatorSecurity,
        response: { 200: workerSummarySchema, 503: workerSummarySchema, ...errorResponses },
      },
    },
    async (_request, reply) => {
      const now = new Date();
      let workers: WorkerHealth[];
      let counts: QueueCounts;
      try {
        [workers, counts] = await Promise.all([readWorkers(deps.redis, deps.queuePrefix, now), deps.queue.counts(now)]);
      } catch (error) {
        return reply.code(503).send({
          status: "unhealthy",
          reasons: ["Redis cannot be read"],
          workerCount: 0,
          healthyWorkers: 0,
          degradedWorkers: 0,
          unhealthyWorkers: 0,
          eventsProcessed: 0,
          eventsSucceeded: 0,
          eventsFailed: 0,
          activeEvents: 0,
          timestamp: now.toISOString(),
          error: (error as Error).message,
        });
      }
      const byStatus = countWorkers(workers);
      const verdict = classifyFleet(workers, counts.backlog);
      const sum = (pick: (worker: WorkerHealth) => number) => workers.reduce((total, w) => total + pick(w), 0);
      return reply.code(verdict.status === "unhealthy" ? 503 : 200).send({
        status: verdict.status,
        reasons: verdict.reasons,
        workerCount: workers.length,
        healthyWorkers: byStatus.healthy,
        degradedWorkers: byStatus.degraded,
        unhealthyWorkers: byStatus.unhealthy,
        eventsProcessed: sum((w) => w.processed),
        eventsSucceeded: sum((w) => w.succeeded),
        eventsFailed: sum((w) => w.failed),
        activeEvents: sum((w) => w.activeRuns),
        timestamp: now.toISOString(),
      });
    },
  );
}
