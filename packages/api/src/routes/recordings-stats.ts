import { ApiError } from "@conveyor/core";
import {
  type DbHandle,
  getRecording,
  getRecordingStatsByDays,
  getRecordingStatsByRuns,
  getRunFailureDetail,
  type RecordingResult,
  type RecordingStats,
  STATS_MAX_DAYS,
  windowStartDay,
} from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses } from "../views.ts";
import { idParams, isWellFormed, notFound } from "./common.ts";

/** Default window of the stats, days. */
export const STATS_DEFAULT_DAYS = 30;
/** Most runs `?runs=N` looks at. */
export const STATS_MAX_RUNS = 1000;

export const recordingStatsQuery = z.object({
  days: z.coerce
    .number()
    .int()
    .min(1)
    .max(STATS_MAX_DAYS)
    .optional()
    .describe(`The last D UTC days, today included (default ${STATS_DEFAULT_DAYS}); from the daily rollup`),
  runs: z.coerce
    .number()
    .int()
    .min(1)
    .max(STATS_MAX_RUNS)
    .optional()
    .describe("Instead: the last N finished runs, read from the runs themselves"),
});

export const recordingStatsResponse = z.object({
  recordingId: z.string(),
  window: z.object({
    days: z.number().nullable(),
    runs: z.number().nullable(),
    from: z.string().nullable().describe("First UTC day of a `days` window"),
  }),
  source: z.enum(["rollup", "runs"]).describe("rollup: as of the last stats-rollup pass; runs: read now"),
  runs: z.number().describe("Finished runs in the window"),
  passed: z.number(),
  failed: z.number(),
  errored: z.number(),
  cancelled: z.number(),
  flaky: z.number().describe("Passed after a failed attempt (counted in passed too)"),
  passRate: z.number().nullable().describe("passed / (passed + failed + errored); null without such runs"),
  flakyRate: z.number().nullable().describe("flaky / (passed + failed + errored)"),
  p50DurationMs: z.number().nullable().describe("Of the runs that passed or failed"),
  p95DurationMs: z.number().nullable(),
  lastFailure: z
    .object({
      runId: z.string(),
      at: z.string(),
      actionIndex: z.number().nullable(),
      actionType: z.string().nullable(),
      errorMessage: z.string().nullable(),
      links: z.object({ run: z.string() }),
    })
    .nullable()
    .describe("The latest failed run of the window, with its failing action"),
  results: z
    .array(
      z.object({
        runId: z.string(),
        status: z.enum(["passed", "failed", "errored", "cancelled"]),
        flaky: z.boolean(),
        finishedAt: z.string(),
      }),
    )
    .nullable()
    .describe("With `runs=N`: each of those runs, oldest first (a history sparkline); null with `days`"),
});

export function registerRecordingStats(app: FastifyInstance, deps: { db: DbHandle }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/recordings/:id/stats",
    {
      config: { scope: "recordings:read" },
      schema: {
        summary: "A recording's pass rate, flaky rate, p50/p95 duration and last failure, over D days or N runs",
        tags: ["recordings"],
        params: idParams("recording"),
        querystring: recordingStatsQuery,
        response: { 200: recordingStatsResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { projectId, query } = request;
      if (query.days !== undefined && query.runs !== undefined) {
        const message = "give days or runs, not both";
        throw new ApiError("validation_failed", `querystring.runs: ${message}`, {
          fields: [{ field: "querystring.runs", message }],
        });
      }
      const recording = isWellFormed("recording", id) ? await getRecording(deps.db.db, projectId, id) : null;
      if (!recording) throw notFound("recording", id);
      const now = new Date();
      let stats: RecordingStats;
      let window: { days: number | null; runs: number | null; from: string | null };
      let results: RecordingResult[] | null = null;
      if (query.runs !== undefined) {
        ({ results, ...stats } = await getRecordingStatsByRuns(deps.db.db, projectId, id, query.runs));
        window = { days: null, runs: query.runs, from: null };
      } else {
        const days = query.days ?? STATS_DEFAULT_DAYS;
        stats = await getRecordingStatsByDays(deps.db.db, projectId, id, days, now);
        window = { days, runs: null, from: windowStartDay(now, days) };
      }
      const detail = stats.lastFailure
        ? await getRunFailureDetail(deps.db.db, projectId, stats.lastFailure.runId)
        : null;
      const { lastFailure, ...counts } = stats;
      return {
        recordingId: id,
        window,
        source: query.runs !== undefined ? ("runs" as const) : ("rollup" as const),
        ...counts,
        lastFailure: lastFailure
          ? {
              runId: lastFailure.runId,
              at: lastFailure.at.toISOString(),
              actionIndex: detail?.actionIndex ?? null,
              actionType: detail?.actionType ?? null,
              errorMessage: detail?.errorMessage ?? null,
              links: { run: `/api/runs/${lastFailure.runId}` },
            }
          : null,
        results: results?.map((result) => ({ ...result, finishedAt: result.finishedAt.toISOString() })) ?? null,
      };
    },
  );
}
