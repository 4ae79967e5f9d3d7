import { RUN_STATUSES } from "@conveyor/core";
import { type DbHandle, listRuns } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, pageResponse, runResponse, runView } from "../views.ts";
import { ciFilter, ciQuery, idQuery, paginationQuery, parseCursor } from "./common.ts";

export const listRunsQuery = z.object({
  ...paginationQuery,
  /** One status, or several separated by commas: `status=failed,errored`. */
  status: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (!value) return undefined;
      const statuses = value.split(",").map((s) => s.trim());
      for (const status of statuses) {
        if (!(RUN_STATUSES as readonly string[]).includes(status)) {
          ctx.addIssue({ code: "custom", message: `unknown status "${status}"; expected ${RUN_STATUSES.join(", ")}` });
          return z.NEVER;
        }
      }
      return statuses as (typeof RUN_STATUSES)[number][];
    }),
  /** Only the runs of this suite run. */
  suiteRunId: z.string().min(1).max(64).optional(),
  /** `true`: only flaky runs (passed after a failed attempt); `false`: only the others. */
  flaky: z
    .enum(["true", "false"], { error: 'expected "true" or "false"' })
    .optional()
    .transform((value) => (value === undefined ? undefined : value === "true")),
  /** Only the runs of this stored recording. */
  recordingId: idQuery("recording", "recording").optional(),
  /** Only the runs this schedule started (a suite schedule's suite runs' runs included). */
  scheduleId: idQuery("schedule", "schedule").optional(),
  /** Only the runs of this suite's suite runs. */
  suiteId: idQuery("suite", "suite").optional(),
  ...ciQuery,
});

export function registerListRuns(app: FastifyInstance, deps: { db: DbHandle }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/runs",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "List runs, newest first",
        tags: ["runs"],
        querystring: listRunsQuery,
        response: { 200: pageResponse(runResponse), ...errorResponses },
      },
    },
    async (request) => {
      const ci = ciFilter(request.query);
      const page = await listRuns(deps.db.db, request.projectId, {
        limit: request.query.limit,
        ...(request.query.status ? { status: request.query.status } : {}),
        ...(request.query.suiteRunId === undefined ? {} : { suiteRunId: request.query.suiteRunId }),
        ...(request.query.flaky === undefined ? {} : { flaky: request.query.flaky }),
        ...(request.query.recordingId === undefined ? {} : { recordingId: request.query.recordingId }),
        ...(request.query.scheduleId === undefined ? {} : { scheduleId: request.query.scheduleId }),
        ...(request.query.suiteId === undefined ? {} : { suiteId: request.query.suiteId }),
        ...(ci ? { ci } : {}),
        cursor: parseCursor(request.query.cursor),
      });
      return { items: page.items.map(runView), nextCursor: page.nextCursor };
    },
  );
}
