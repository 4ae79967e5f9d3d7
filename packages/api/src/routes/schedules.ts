/**
 * Schedules: a recording or a suite run on a cron expression (in an IANA time zone) or a fixed
 * interval. The API defines, pauses, resumes and triggers them and reads their fire log; the
 * workers' tick acts on their scheduled times (docs/schedules.md). Every route needs `runs:*`.
 */
import {
  ApiError,
  CronSyntaxError,
  cancelChannel,
  isValidTimeZone,
  nextFireTimes,
  PRIORITY_DEFAULT,
  PRIORITY_MAX,
  PRIORITY_MIN,
  parseCron,
  runOptionsSchema,
  type ScheduleTiming,
} from "@conveyor/core";
import {
  type DbHandle,
  deleteSchedule,
  existingRecordingIds,
  fireSchedule,
  getSchedule,
  getSuite,
  insertSchedule,
  listScheduleFires,
  listSchedules,
  MAX_TEST_RETRIES,
  pauseSchedule,
  resumeSchedule,
  type Schedule,
  type ScheduleInput,
  ScheduleNameTakenError,
  type Suite,
  updateSchedule,
} from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Redis } from "ioredis";
import { z } from "zod";
import { assertPriorityAllowed } from "../limits-check.ts";
import { sqlStateOf } from "../plugins/errors.ts";
import type { ProjectLimitsCache } from "../project-limits.ts";
import type { RunQueue } from "../queue.ts";
import {
  errorResponses,
  noContent,
  OVERLAP_POLICIES,
  pageResponse,
  runResponse,
  runView,
  scheduleFireResponse,
  scheduleFireView,
  scheduleResponse,
  scheduleView,
} from "../views.ts";
import { idParams, isWellFormed, notFound, paginationQuery, parseCursor } from "./common.ts";

/** Longest fixed interval, s (31 days). */
export const SCHEDULE_MAX_EVERY_SECONDS = 31 * 86_400;
/** Default minimum interval between two scheduled times, s (SCHEDULE_MIN_INTERVAL_S). */
export const SCHEDULE_MIN_INTERVAL_S_DEFAULT = 60;
/** Consecutive cron times compared against the minimum interval. */
const CRON_INTERVAL_SAMPLES = 10;
/** SQLSTATE of a unique violation. */
const UNIQUE_VIOLATION = "23505";
/** Reason of a pause that gives none. */
const DEFAULT_PAUSE_REASON = "paused by a user";

const isoDateTime = z.iso.datetime({ offset: true });

const runOverridesInput = z
  .strictObject({
    /** 1 (most urgent) to 10. */
    priority: z.number().int().min(PRIORITY_MIN).max(PRIORITY_MAX).optional(),
    /** Whole-run timeout, ms. */
    timeoutMs: z.number().int().min(1000).max(3_600_000).optional(),
    /** How to replay (docs/api.md). */
    options: runOptionsSchema.optional(),
    /** Test-level retries: a failed attempt runs again this many times at most (over the suite's `defaults.retries`). */
    retries: z.number().int().min(0).max(MAX_TEST_RETRIES).optional(),
  })
  .describe("Given to every run it starts, over the suite's defaults and the API's");

const scheduleFields = {
  name: z.string().trim().min(1).max(200),
  recordingId: z.string().min(1).max(64).nullable().optional().describe("Run this recording (or give suiteId)"),
  suiteId: z.string().min(1).max(64).nullable().optional().describe("Run this suite (or give recordingId)"),
  cron: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .nullable()
    .optional()
    .describe('5 fields, "minute hour day-of-month month day-of-week" (or give everySeconds)'),
  timezone: z.string().min(1).max(100).optional().describe('IANA time zone `cron` is read in; default "UTC"'),
  everySeconds: z
    .number()
    .int()
    .min(1)
    .max(SCHEDULE_MAX_EVERY_SECONDS)
    .nullable()
    .optional()
    .describe("A fixed interval, s, at least SCHEDULE_MIN_INTERVAL_S (or give cron)"),
  startAt: isoDateTime.nullable().optional().describe("No scheduled time before it"),
  endAt: isoDateTime.nullable().optional().describe("No scheduled time after it"),
  jitterSeconds: z.number().int().min(0).max(3600).optional().describe("Delay each fire by up to this, s (default 0)"),
  overlap: z.enum(OVERLAP_POLICIES).optional().describe("When a run of an earlier fire is unfinished; default skip"),
  catchUpWindowSeconds: z
    .number()
    .int()
    .min(0)
    .max(86_400)
    .optional()
    .describe("How late a scheduled time may still start its run, s (default 0)"),
  runOverrides: runOverridesInput.optional(),
  pauseAfterFailures: z
    .number()
    .int()
    .min(1)
    .max(100)
    .nullable()
    .optional()
    .describe("Pause after this many consecutive failed fires (default null: never)"),
};

export const createScheduleBody = z.strictObject(scheduleFields);

export const updateScheduleBody = z.strictObject({ ...scheduleFields, name: scheduleFields.name.optional() });

/** Optional: a POST without a body (Fastify's `null`) pauses with the default reason. */
export const pauseScheduleBody = z
  .strictObject({ reason: z.string().trim().min(1).max(500).optional().describe(`Default "${DEFAULT_PAUSE_REASON}"`) })
  .nullish();

const firesQuery = z.object(paginationQuery);

const triggerResponse = z.object({
  fire: scheduleFireResponse,
  runs: z.array(runResponse).describe("The queued runs it started (one, or one per recording of the suite)"),
});

export interface ScheduleRouteDeps {
  db: DbHandle;
  queue: RunQueue;
  redis: Redis;
  queuePrefix: string;
  projectLimits: ProjectLimitsCache;
  /** The API's run defaults, copied onto a schedule each time it is saved. */
  defaults: { runTimeoutMs: number; actionTimeoutMs: number; maxAttempts: number };
  /** SCHEDULE_MIN_INTERVAL_S: the shortest interval between two scheduled times, s. */
  minIntervalS: number;
}

function invalid(field: string, message: string): ApiError {
  return new ApiError("validation_failed", `${field}: ${message}`, { fields: [{ field, message }] });
}

function nameTaken(error: unknown): never {
  if (error instanceof ScheduleNameTakenError) throw new ApiError("conflict", error.message);
  throw error;
}

type Body = z.output<typeof updateScheduleBody>;

/** Whether a body changes the timing (a PATCH then checks that the schedule still fires). */
function setsTiming(body: Body): boolean {
  return [body.cron, body.timezone, body.everySeconds, body.startAt, body.endAt].some((v) => v !== undefined);
}

/**
 * Of a pair where exactly one must be set (recording/suite, cron/everySeconds): the values after a
 * body that may name either, both or none. Setting one clears the other unless the body names it.
 */
function pair<T, U>(sentA: T | null | undefined, sentB: U | null | undefined, current: [T | null, U | null]) {
  if (sentA === undefined && sentB === undefined) return current;
  const a = sentA !== undefined ? sentA : sentB !== null ? null : current[0];
  const b = sentB !== undefined ? sentB : sentA !== null ? null : current[1];
  return [a, b] as [T | null, U | null];
}

/** The full settings a body leads to over `current` (none for a new schedule), not yet validated. */
function merge(body: Body, current: Schedule | null, defaults: ScheduleRouteDeps["defaults"]): ScheduleInput {
  const [recordingId, suiteId] = pair(body.recordingId, body.suiteId, [
    current?.recordingId ?? null,
    current?.suiteId ?? null,
  ]);
  const [cron, everySeconds] = pair(body.cron, body.everySeconds, [
    current?.cron ?? null,
    current?.everySeconds ?? null,
  ]);
  const date = (sent: string | null | undefined, was: Date | null | undefined) =>
    sent === undefined ? (was ?? null) : sent === null ? null : new Date(sent);
  return {
    name: body.name ?? current?.name ?? "",
    recordingId,
    suiteId,
    cron,
    timezone: body.timezone ?? current?.timezone ?? "UTC",
    everySeconds,
    startAt: date(body.startAt, current?.startAt),
    endAt: date(body.endAt, current?.endAt),
    jitterSeconds: body.jitterSeconds ?? current?.jitterSeconds ?? 0,
    overlap: body.overlap ?? current?.overlap ?? "skip",
    catchUpWindowSeconds: body.catchUpWindowSeconds ?? current?.catchUpWindowSeconds ?? 0,
    runOverrides: body.runOverrides ?? current?.runOverrides ?? {},
    // The API's defaults now: the workers that start the runs do not have them.
    runDefaults: {
      timeoutMs: defaults.runTimeoutMs,
      actionTimeoutMs: defaults.actionTimeoutMs,
      maxAttempts: defaults.maxAttempts,
    },
    pauseAfterFailures:
      body.pauseAfterFailures === undefined ? (current?.pauseAfterFailures ?? null) : body.pauseAfterFailures,
  };
}

/**
 * Refuses settings that cannot be a schedule, naming the field: not exactly one target or timing,
 * a target that is not this project's, a bad cron expression or time zone, an interval below the
 * minimum, a cron expression that fires more often than it, bounds in the wrong order, a timing
 * that never fires (when `checkFires`), a priority the project may not use.
 */
async function validate(
  deps: ScheduleRouteDeps,
  projectId: string,
  input: ScheduleInput,
  options: { now: Date; checkFires: boolean },
): Promise<void> {
  if ((input.recordingId === null) === (input.suiteId === null)) {
    const got = input.recordingId === null ? "neither" : "both";
    throw invalid("body.recordingId", `give exactly one of recordingId and suiteId (got ${got})`);
  }
  let suite: Suite | null = null;
  if (input.recordingId !== null) {
    const exists =
      isWellFormed("recording", input.recordingId) &&
      (await existingRecordingIds(deps.db.db, projectId, [input.recordingId])).has(input.recordingId);
    if (!exists) throw invalid("body.recordingId", `no recording ${input.recordingId} in this project`);
  } else if (input.suiteId !== null) {
    suite = isWellFormed("suite", input.suiteId) ? await getSuite(deps.db.db, projectId, input.suiteId) : null;
    if (!suite) throw invalid("body.suiteId", `no suite ${input.suiteId} in this project`);
  }

  if ((input.cron === null) === (input.everySeconds === null)) {
    const got = input.cron === null ? "neither" : "both";
    throw invalid("body.cron", `give exactly one of cron and everySeconds (got ${got})`);
  }
  if (!isValidTimeZone(input.timezone)) {
    throw invalid("body.timezone", `"${input.timezone}" is not an IANA time zone (e.g. "Europe/Berlin", "UTC")`);
  }
  const minMs = deps.minIntervalS * 1000;
  if (input.everySeconds !== null && input.everySeconds < deps.minIntervalS) {
    throw invalid(
      "body.everySeconds",
      `must be at least ${deps.minIntervalS} (the minimum interval, SCHEDULE_MIN_INTERVAL_S), got ${input.everySeconds}`,
    );
  }
  if (input.cron !== null) {
    let minutes: number[];
    try {
      minutes = [...parseCron(input.cron).minutes].sort((a, b) => a - b);
    } catch (error) {
      if (error instanceof CronSyntaxError) throw invalid("body.cron", error.message);
      throw error;
    }
    const tooOften = (gapMs: number) =>
      invalid(
        "body.cron",
        `fires ${gapMs / 1000} s apart, more often than the minimum interval of ${deps.minIntervalS} s (SCHEDULE_MIN_INTERVAL_S)`,
      );
    // Minutes of one hour fire one after another: their closest pair is a real gap.
    for (let i = 1; i < minutes.length; i++) {
      const gap = ((minutes[i] as number) - (minutes[i - 1] as number)) * 60_000;
      if (gap < minMs) throw tooOften(gap);
    }
    // And across hours and days, from the next few times.
    const times = nextFireTimes({ cron: input.cron, timezone: input.timezone }, options.now, CRON_INTERVAL_SAMPLES);
    for (let i = 1; i < times.length; i++) {
      const gap = (times[i] as Date).getTime() - (times[i - 1] as Date).getTime();
      if (gap < minMs) throw tooOften(gap);
    }
  }
  if (input.startAt && input.endAt && input.endAt.getTime() <= input.startAt.getTime()) {
    throw invalid("body.endAt", "must be after startAt");
  }
  if (options.checkFires) {
    const timing: ScheduleTiming = {
      ...(input.cron !== null ? { cron: input.cron, timezone: input.timezone } : {}),
      ...(input.everySeconds !== null ? { everySeconds: input.everySeconds } : {}),
      startAt: input.startAt,
      endAt: input.endAt,
    };
    if (nextFireTimes(timing, options.now, 1).length === 0) {
      throw input.endAt !== null
        ? invalid("body.endAt", "is past: the schedule would never fire")
        : invalid("body.cron", "matches no time in the next 5 years");
    }
  }

  const limits = await deps.projectLimits.get(projectId);
  const override = input.runOverrides.priority;
  const suitePriority = suite?.defaults.priority;
  assertPriorityAllowed(
    override ?? suitePriority ?? PRIORITY_DEFAULT,
    limits,
    override === undefined && suitePriority !== undefined ? "suite.defaults.priority" : "body.runOverrides.priority",
  );
}

/** A fire log cursor: the id of the last fire of the previous page. */
function parseFireCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  const id = /^[1-9][0-9]{0,15}$/.test(cursor) ? Number(cursor) : Number.NaN;
  if (!Number.isSafeInteger(id)) {
    throw invalid("querystring.cursor", "is not a cursor returned by this API");
  }
  return id;
}

export function registerScheduleRoutes(app: FastifyInstance, deps: ScheduleRouteDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  const load = async (projectId: string, id: string): Promise<Schedule> => {
    const schedule = isWellFormed("schedule", id) ? await getSchedule(deps.db.db, projectId, id) : null;
    if (!schedule) throw notFound("schedule", id);
    return schedule;
  };

  api.post(
    "/api/schedules",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Create a schedule: a recording or a suite run on a cron expression or a fixed interval",
        description:
          "Exactly one of `recordingId` and `suiteId`, and exactly one of `cron` (with `timezone`) and `everySeconds`. Runs get the API's default timeout, action timeout and attempts as they are now (saved with the schedule). See docs/schedules.md.",
        tags: ["schedules"],
        body: createScheduleBody,
        response: { 201: scheduleResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { projectId } = request;
      const now = new Date();
      const input = merge(request.body, null, deps.defaults);
      await validate(deps, projectId, input, { now, checkFires: true });
      const schedule = await insertSchedule(deps.db.db, projectId, input, now).catch(nameTaken);
      return reply.code(201).header("location", `/api/schedules/${schedule.id}`).send(scheduleView(schedule, now));
    },
  );

  api.get(
    "/api/schedules",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "List schedules, newest first",
        tags: ["schedules"],
        querystring: z.object(paginationQuery),
        response: { 200: pageResponse(scheduleResponse), ...errorResponses },
      },
    },
    async (request) => {
      const page = await listSchedules(deps.db.db, request.projectId, {
        limit: request.query.limit,
        cursor: parseCursor(request.query.cursor),
      });
      const now = new Date();
      return { items: page.items.map((schedule) => scheduleView(schedule, now)), nextCursor: page.nextCursor };
    },
  );

  api.get(
    "/api/schedules/:id",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "A schedule, with its next scheduled times",
        tags: ["schedules"],
        params: idParams("schedule"),
        response: { 200: scheduleResponse, ...errorResponses },
      },
    },
    async (request) => scheduleView(await load(request.projectId, request.params.id)),
  );

  api.patch(
    "/api/schedules/:id",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Change a schedule (fields not sent stay); its next scheduled time is recomputed from now",
        description:
          "Sending `cron` clears `everySeconds` and the reverse; sending `recordingId` clears `suiteId` and the reverse. `null` clears `startAt`, `endAt`, `pauseAfterFailures`. Validated as on creation. A pause stays.",
        tags: ["schedules"],
        params: idParams("schedule"),
        body: updateScheduleBody,
        response: { 200: scheduleResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { projectId, body } = request;
      const current = await load(projectId, id);
      const now = new Date();
      const input = merge(body, current, deps.defaults);
      await validate(deps, projectId, input, { now, checkFires: setsTiming(body) });
      const updated = await updateSchedule(deps.db.db, projectId, id, input, now).catch(nameTaken);
      if (!updated) throw notFound("schedule", id);
      return scheduleView(updated, now);
    },
  );

  api.delete(
    "/api/schedules/:id",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Delete a schedule and its fire log; the runs it started stay (their scheduleId becomes null)",
        tags: ["schedules"],
        params: idParams("schedule"),
        response: { 204: noContent("Deleted"), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const deleted = isWellFormed("schedule", id) ? await deleteSchedule(deps.db.db, request.projectId, id) : false;
      if (!deleted) throw notFound("schedule", id);
      return reply.code(204).send();
    },
  );

  api.post(
    "/api/schedules/:id/pause",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Pause a schedule: its scheduled times are logged skipped_paused until it is resumed",
        tags: ["schedules"],
        params: idParams("schedule"),
        body: pauseScheduleBody,
        response: { 200: scheduleResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const reason = request.body?.reason ?? DEFAULT_PAUSE_REASON;
      const paused = isWellFormed("schedule", id)
        ? await pauseSchedule(deps.db.db, request.projectId, id, reason)
        : null;
      if (!paused) throw notFound("schedule", id);
      return scheduleView(paused);
    },
  );

  api.post(
    "/api/schedules/:id/resume",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Resume a paused schedule from now (scheduled times that passed while paused are not run)",
        tags: ["schedules"],
        params: idParams("schedule"),
        response: { 200: scheduleResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const now = new Date();
      const resumed = isWellFormed("schedule", id)
        ? await resumeSchedule(deps.db.db, request.projectId, id, now)
        : null;
      if (!resumed) throw notFound("schedule", id);
      return scheduleView(resumed, now);
    },
  );

  api.post(
    "/api/schedules/:id/trigger",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Fire a schedule now (a manual fire): starts its run even when paused, whatever its overlap policy",
        description:
          "Logged in the fire log with `manual: true` and the current time as its scheduled time. 409 when that time already has a fire (retry).",
        tags: ["schedules"],
        params: idParams("schedule"),
        response: { 202: triggerResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const schedule = await load(request.projectId, request.params.id);
      const now = new Date();
      const alreadyFired = () =>
        new ApiError("conflict", `Schedule ${schedule.id} already has a fire at ${now.toISOString()}; retry`);
      const effects = await fireSchedule(deps.db.db, schedule, now, { now, manual: true }).catch((error: unknown) => {
        // A recording's run is named by its scheduled time (its Idempotency-Key): a second fire of
        // the same instant collides there before it reaches the fire log's own unique index.
        if (sqlStateOf(error) === UNIQUE_VIOLATION) throw alreadyFired();
        throw error;
      });
      if (!effects.fire) throw alreadyFired();
      for (const run of effects.enqueue) {
        await deps.queue.deliver(run, (error) =>
          request.log.warn({ err: error, runId: run.id }, "enqueue failed; a worker's reconciler will enqueue the run"),
        );
      }
      for (const runId of effects.withdraw) {
        await deps.queue.withdraw(runId).catch((error: unknown) => {
          request.log.warn({ err: error, runId }, "could not remove the cancelled run's job; the worker will skip it");
        });
      }
      for (const runId of effects.stop) await deps.redis.publish(cancelChannel(deps.queuePrefix), runId);
      return reply
        .code(202)
        .send({ fire: scheduleFireView(effects.fire), runs: effects.enqueue.map((run) => runView(run)) });
    },
  );

  api.get(
    "/api/schedules/:id/fires",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "A schedule's fire log, newest first: what became of each scheduled time",
        tags: ["schedules"],
        params: idParams("schedule"),
        querystring: firesQuery,
        response: { 200: pageResponse(scheduleFireResponse), ...errorResponses },
      },
    },
    async (request) => {
      const { projectId, query } = request;
      const beforeId = parseFireCursor(query.cursor);
      const schedule = await load(projectId, request.params.id);
      const page = await listScheduleFires(deps.db.db, projectId, schedule.id, {
        limit: query.limit,
        ...(beforeId === undefined ? {} : { beforeId }),
      });
      return {
        items: page.items.map(scheduleFireView),
        nextCursor: page.nextBeforeId === null ? null : String(page.nextBeforeId),
      };
    },
  );
}
