import { ApiError } from "@conveyor/core";
import {
  type DbHandle,
  disableServiceTask,
  enableServiceTask,
  listServiceTasks,
  requestServiceTaskRun,
  type ServiceTaskState,
} from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses } from "../views.ts";

/**
 * The service's own background tasks (retention, reconciliation, the schedules' clock), run by
 * the workers' orchestrator: their state, a manual run, enable and disable. Admin token only:
 * they act on the whole installation, not on a project.
 */
export const serviceTaskSchema = z.object({
  name: z.string(),
  description: z.string(),
  mode: z.enum(["scheduled", "triggered", "continuous"]),
  intervalMs: z.number(),
  timeoutMs: z.number(),
  maxRetries: z.number(),
  priority: z.number(),
  maxConsecutiveFailures: z.number().describe("0: never disabled"),
  dependsOn: z.array(z.string()),
  blocks: z.array(z.string()),
  enabled: z.boolean(),
  disabledReason: z.string().nullable(),
  disabledAt: z.string().nullable(),
  status: z
    .enum(["running", "requested", "idle", "disabled"])
    .describe("running: a worker holds its lease now; requested: a manual run waits to be taken"),
  running: z
    .object({ worker: z.string(), startedAt: z.string().nullable(), leaseExpiresAt: z.string().nullable() })
    .nullable(),
  runRequestedAt: z.string().nullable(),
  nextRunAt: z.string().nullable().describe("Scheduled and continuous tasks: when it is due next; null: now"),
  lastRun: z
    .object({
      startedAt: z.string().nullable(),
      finishedAt: z.string().nullable(),
      durationMs: z.number().nullable(),
    })
    .nullable(),
  lastSuccessAt: z.string().nullable(),
  lastResult: z.record(z.string(), z.unknown()).nullable(),
  lastError: z.string().nullable(),
  lastErrorAt: z.string().nullable(),
  consecutiveFailures: z.number(),
  runs: z.number(),
  failures: z.number(),
});

const iso = (date: Date | null) => date?.toISOString() ?? null;

export function serviceTaskView(task: ServiceTaskState): z.infer<typeof serviceTaskSchema> {
  return {
    name: task.name,
    description: task.definition.description,
    mode: task.mode,
    intervalMs: task.intervalMs,
    timeoutMs: task.definition.timeoutMs,
    maxRetries: task.definition.maxRetries,
    priority: task.definition.priority,
    maxConsecutiveFailures: task.definition.maxConsecutiveFailures,
    dependsOn: task.definition.dependsOn,
    blocks: task.definition.blocks,
    enabled: task.enabled,
    disabledReason: task.disabledReason,
    disabledAt: iso(task.disabledAt),
    status: task.running ? "running" : !task.enabled ? "disabled" : task.runRequestedAt ? "requested" : "idle",
    running:
      task.running && task.leaseHolder
        ? { worker: task.leaseHolder, startedAt: iso(task.runStartedAt), leaseExpiresAt: iso(task.leaseExpiresAt) }
        : null,
    runRequestedAt: iso(task.runRequestedAt),
    nextRunAt: task.mode === "triggered" ? null : iso(task.nextRunAt),
    lastRun: task.lastRunAt
      ? { startedAt: iso(task.lastRunAt), finishedAt: iso(task.lastFinishedAt), durationMs: task.lastDurationMs }
      : null,
    lastSuccessAt: iso(task.lastSuccessAt),
    lastResult: task.lastResult ?? null,
    lastError: task.lastError,
    lastErrorAt: iso(task.lastErrorAt),
    consecutiveFailures: task.consecutiveFailures,
    runs: task.runs,
    failures: task.failures,
  };
}

const nameParams = z.object({
  name: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9][a-z0-9-]*$/, "a task name"),
});

export function registerAdminTasks(app: FastifyInstance, deps: { db: DbHandle }): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  const common = { config: { auth: "admin" as const }, tags: ["admin"], security: [{ adminToken: [] }] };
  const find = async (name: string) => {
    const task = (await listServiceTasks(deps.db.db)).find((row) => row.name === name);
    if (!task) throw new ApiError("not_found", `no service task is named ${name}`);
    return task;
  };

  typed.get(
    "/api/admin/tasks",
    {
      config: common.config,
      schema: {
        summary: "The service's background tasks and their state",
        tags: common.tags,
        security: common.security,
        response: { 200: z.object({ tasks: z.array(serviceTaskSchema) }), ...errorResponses },
      },
    },
    async () => ({ tasks: (await listServiceTasks(deps.db.db)).map(serviceTaskView) }),
  );

  typed.get(
    "/api/admin/tasks/:name",
    {
      config: common.config,
      schema: {
        summary: "One background task",
        tags: common.tags,
        security: common.security,
        params: nameParams,
        response: { 200: serviceTaskSchema, ...errorResponses },
      },
    },
    async (request) => serviceTaskView(await find(request.params.name)),
  );

  typed.post(
    "/api/admin/tasks/:name/run",
    {
      config: common.config,
      schema: {
        summary: "Run a background task now",
        description:
          "Asks for a run: the next worker free to run it takes it within TASKS_POLL_MS. `409 conflict` with the reason while it is running, disabled, or kept from starting by a task it depends on or that blocks it.",
        tags: common.tags,
        security: common.security,
        params: nameParams,
        response: { 202: serviceTaskSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const outcome = await requestServiceTaskRun(deps.db.db, request.params.name, "admin API");
      if (!outcome.requested) {
        if (outcome.reason === "unknown") throw new ApiError("not_found", outcome.detail);
        throw new ApiError("conflict", outcome.detail);
      }
      return reply.code(202).send(serviceTaskView(outcome.requested));
    },
  );

  typed.post(
    "/api/admin/tasks/:name/enable",
    {
      config: common.config,
      schema: {
        summary: "Enable a background task (again)",
        description: "Clears its consecutive failures and disabled reason; it runs at its next due time.",
        tags: common.tags,
        security: common.security,
        params: nameParams,
        response: { 200: serviceTaskSchema, ...errorResponses },
      },
    },
    async (request) => {
      const task = await enableServiceTask(deps.db.db, request.params.name);
      if (!task) throw new ApiError("not_found", `no service task is named ${request.params.name}`);
      return serviceTaskView(task);
    },
  );

  typed.post(
    "/api/admin/tasks/:name/disable",
    {
      config: common.config,
      schema: {
        summary: "Disable a background task",
        description:
          "A run under way finishes; no new one starts until it is enabled. Health reads `degraded` meanwhile.",
        tags: common.tags,
        security: common.security,
        params: nameParams,
        body: z.strictObject({ reason: z.string().trim().min(1).max(500).optional() }).optional(),
        response: { 200: serviceTaskSchema, ...errorResponses },
      },
    },
    async (request) => {
      const reason = request.body?.reason ?? "disabled by an operator";
      const task = await disableServiceTask(deps.db.db, request.params.name, reason);
      if (!task) throw new ApiError("not_found", `no service task is named ${request.params.name}`);
      return serviceTaskView(task);
    },
  );
}
