/**
 * Alert rules and maintenance windows: who is told what, and when nobody is
 * (docs/notifications.md). Reading needs `runs:read`, changing `runs:write`.
 */
import { ApiError } from "@conveyor/core";
import {
  ALERT_EVENTS,
  ALERT_SCOPES,
  type AlertRule,
  AlertRuleNameTakenError,
  type AlertScopeType,
  type DbHandle,
  deleteAlertRule,
  deleteMaintenanceWindow,
  existingChannelIds,
  existingRecordingIds,
  getAlertRule,
  getMaintenanceWindow,
  getSchedule,
  getSuite,
  insertAlertRule,
  insertMaintenanceWindow,
  listAlertRules,
  listMaintenanceWindows,
  type MaintenanceWindow,
} from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, noContent, pageResponse } from "../views.ts";
import { idParams, isWellFormed, paginationQuery, parseCursor, tagInput } from "./common.ts";

/** Longest maintenance window, days. */
export const MAINTENANCE_MAX_DAYS = 30;

const scopeInput = {
  scope: z
    .enum(ALERT_SCOPES)
    .default("project")
    .describe("What the rule (window) covers: the whole project, one recording, suite or schedule, or a tag"),
  scopeValue: z
    .string()
    .trim()
    .min(1)
    .max(64)
    .optional()
    .describe("The recording, suite or schedule id, or the tag; not with scope `project`"),
};

export const createAlertRuleBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  ...scopeInput,
  events: z
    .array(z.enum(ALERT_EVENTS))
    .min(1)
    .max(ALERT_EVENTS.length)
    .refine((events) => new Set(events).size === events.length, "lists an event twice"),
  afterConsecutiveFailures: z
    .number()
    .int()
    .min(1)
    .max(100)
    .default(1)
    .describe("run.failed is sent once this many runs in a row failed"),
  remindEveryHours: z
    .number()
    .int()
    .min(1)
    .max(168)
    .nullable()
    .default(null)
    .describe("While still failing, run.failed again every this many hours; null: never"),
  channelIds: z.array(z.string().min(1).max(64)).min(1).max(20),
});

export const alertRuleResponse = z.object({
  id: z.string(),
  name: z.string(),
  scope: z.enum(ALERT_SCOPES),
  scopeValue: z.string().nullable(),
  events: z.array(z.string()),
  afterConsecutiveFailures: z.number(),
  remindEveryHours: z.number().nullable(),
  channelIds: z.array(z.string()),
  enabled: z.boolean(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export function alertRuleView(rule: AlertRule): z.infer<typeof alertRuleResponse> {
  return {
    id: rule.id,
    name: rule.name,
    scope: rule.scopeType,
    scopeValue: rule.scopeValue,
    events: rule.events,
    afterConsecutiveFailures: rule.afterConsecutiveFailures,
    remindEveryHours: rule.remindEveryHours,
    channelIds: rule.channelIds,
    enabled: rule.enabled,
    createdAt: rule.createdAt.toISOString(),
    updatedAt: rule.updatedAt.toISOString(),
  };
}

export const createMaintenanceWindowBody = z
  .strictObject({
    ...scopeInput,
    startsAt: z.iso.datetime({ offset: true }).describe("Default: now"),
    endsAt: z.iso.datetime({ offset: true }),
    mode: z
      .enum(["silence", "pause"])
      .describe("silence: no alerts; pause: no alerts and its schedules' times are skipped"),
    reason: z.string().trim().min(1).max(500).optional(),
  })
  .partial({ startsAt: true });

export const maintenanceWindowResponse = z.object({
  id: z.string(),
  scope: z.enum(ALERT_SCOPES),
  scopeValue: z.string().nullable(),
  startsAt: z.string(),
  endsAt: z.string(),
  mode: z.enum(["silence", "pause"]),
  reason: z.string().nullable(),
  active: z.boolean(),
  createdAt: z.string(),
});

export function maintenanceWindowView(
  window: MaintenanceWindow,
  now: Date = new Date(),
): z.infer<typeof maintenanceWindowResponse> {
  return {
    id: window.id,
    scope: window.scopeType,
    scopeValue: window.scopeValue,
    startsAt: window.startsAt.toISOString(),
    endsAt: window.endsAt.toISOString(),
    mode: window.mode,
    reason: window.reason,
    active: window.startsAt <= now && window.endsAt > now,
    createdAt: window.createdAt.toISOString(),
  };
}

function invalid(field: string, message: string): ApiError {
  return new ApiError("validation_failed", `${field}: ${message}`, { fields: [{ field, message }] });
}

/** The scope's value must name something of this project (or be a well-formed tag). */
async function checkScope(db: DbHandle, projectId: string, scope: AlertScopeType, value: string | undefined) {
  if (scope === "project") {
    if (value !== undefined) throw invalid("body.scopeValue", "must be absent when scope is project");
    return null;
  }
  if (value === undefined) throw invalid("body.scopeValue", `is required when scope is ${scope}`);
  const missing = () => invalid("body.scopeValue", `no ${scope} ${value} in this project`);
  switch (scope) {
    case "recording":
      if (!isWellFormed("recording", value) || !(await existingRecordingIds(db.db, projectId, [value])).has(value))
        throw missing();
      break;
    case "suite":
      if (!isWellFormed("suite", value) || !(await getSuite(db.db, projectId, value))) throw missing();
      break;
    case "schedule":
      if (!isWellFormed("schedule", value) || !(await getSchedule(db.db, projectId, value))) throw missing();
      break;
    case "tag": {
      const parsed = tagInput.safeParse(value);
      if (!parsed.success) throw invalid("body.scopeValue", parsed.error.issues[0]?.message ?? "is not a tag");
      return parsed.data;
    }
  }
  return value;
}

function notFound(kind: string, id: string): ApiError {
  return new ApiError("not_found", `No ${kind} ${id} in this project`);
}

export function registerAlertRoutes(app: FastifyInstance, deps: { db: DbHandle }): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    "/api/alert-rules",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Create an alert rule: events of a scope, a condition, channels",
        tags: ["alerts"],
        body: createAlertRuleBody,
        response: { 201: alertRuleResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { projectId, body } = request;
      const scopeValue = await checkScope(deps.db, projectId, body.scope, body.scopeValue);
      const channelIds = [...new Set(body.channelIds)];
      const known = await existingChannelIds(deps.db.db, projectId, channelIds);
      channelIds.forEach((id, i) => {
        if (!known.has(id)) throw invalid(`body.channelIds[${i}]`, `no channel ${id} in this project`);
      });
      const rule = await insertAlertRule(deps.db.db, projectId, {
        name: body.name,
        scopeType: body.scope,
        scopeValue,
        events: body.events,
        afterConsecutiveFailures: body.afterConsecutiveFailures,
        remindEveryHours: body.remindEveryHours,
        channelIds,
      }).catch((error: unknown) => {
        if (error instanceof AlertRuleNameTakenError) throw new ApiError("conflict", error.message);
        throw error;
      });
      return reply.code(201).header("location", `/api/alert-rules/${rule.id}`).send(alertRuleView(rule));
    },
  );

  api.get(
    "/api/alert-rules",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "List alert rules, newest first",
        tags: ["alerts"],
        querystring: z.object(paginationQuery),
        response: { 200: pageResponse(alertRuleResponse), ...errorResponses },
      },
    },
    async (request) => {
      const page = await listAlertRules(deps.db.db, request.projectId, {
        limit: request.query.limit,
        cursor: parseCursor(request.query.cursor),
      });
      return { items: page.items.map(alertRuleView), nextCursor: page.nextCursor };
    },
  );

  api.get(
    "/api/alert-rules/:id",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "An alert rule",
        tags: ["alerts"],
        params: idParams("alertRule"),
        response: { 200: alertRuleResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const rule = isWellFormed("alertRule", id) ? await getAlertRule(deps.db.db, request.projectId, id) : undefined;
      if (!rule) throw notFound("alert rule", id);
      return alertRuleView(rule);
    },
  );

  api.delete(
    "/api/alert-rules/:id",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Delete an alert rule (and what it remembers of failing subjects)",
        tags: ["alerts"],
        params: idParams("alertRule"),
        response: { 204: noContent("Deleted"), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const deleted = isWellFormed("alertRule", id) && (await deleteAlertRule(deps.db.db, request.projectId, id));
      if (!deleted) throw notFound("alert rule", id);
      return reply.code(204).send();
    },
  );

  api.post(
    "/api/maintenance-windows",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Create a maintenance window: silence alerts (and pause schedules) of a scope for a while",
        tags: ["alerts"],
        body: createMaintenanceWindowBody,
        response: { 201: maintenanceWindowResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { projectId, body } = request;
      const now = new Date();
      const scopeValue = await checkScope(deps.db, projectId, body.scope, body.scopeValue);
      const startsAt = body.startsAt ? new Date(body.startsAt) : now;
      const endsAt = new Date(body.endsAt);
      if (endsAt <= startsAt) throw invalid("body.endsAt", "must be after startsAt");
      if (endsAt <= now) throw invalid("body.endsAt", "must be in the future");
      if (endsAt.getTime() - startsAt.getTime() > MAINTENANCE_MAX_DAYS * 86_400_000)
        throw invalid("body.endsAt", `a window lasts at most ${MAINTENANCE_MAX_DAYS} days`);
      const window = await insertMaintenanceWindow(deps.db.db, projectId, {
        scopeType: body.scope,
        scopeValue,
        startsAt,
        endsAt,
        mode: body.mode,
        reason: body.reason ?? null,
      });
      return reply
        .code(201)
        .header("location", `/api/maintenance-windows/${window.id}`)
        .send(maintenanceWindowView(window, now));
    },
  );

  api.get(
    "/api/maintenance-windows",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "List maintenance windows, newest first",
        tags: ["alerts"],
        querystring: z.object(paginationQuery),
        response: { 200: pageResponse(maintenanceWindowResponse), ...errorResponses },
      },
    },
    async (request) => {
      const page = await listMaintenanceWindows(deps.db.db, request.projectId, {
        limit: request.query.limit,
        cursor: parseCursor(request.query.cursor),
      });
      const now = new Date();
      return { items: page.items.map((window) => maintenanceWindowView(window, now)), nextCursor: page.nextCursor };
    },
  );

  api.get(
    "/api/maintenance-windows/:id",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "A maintenance window",
        tags: ["alerts"],
        params: idParams("maintenanceWindow"),
        response: { 200: maintenanceWindowResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const window = isWellFormed("maintenanceWindow", id)
        ? await getMaintenanceWindow(deps.db.db, request.projectId, id)
        : undefined;
      if (!window) throw notFound("maintenance window", id);
      return maintenanceWindowView(window);
    },
  );

  api.delete(
    "/api/maintenance-windows/:id",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Delete a maintenance window (it ends now)",
        tags: ["alerts"],
        params: idParams("maintenanceWindow"),
        response: { 204: noContent("Deleted"), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const deleted =
        isWellFormed("maintenanceWindow", id) && (await deleteMaintenanceWindow(deps.db.db, request.projectId, id));
      if (!deleted) throw notFound("maintenance window", id);
      return reply.code(204).send();
    },
  );
}
