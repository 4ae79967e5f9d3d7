import { type DbHandle, getAllRunActions, getRun, getRunAttempts, type Run } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  actionResponse,
  actionView,
  attemptResponse,
  attemptView,
  errorResponses,
  runResponse,
  runView,
} from "../views.ts";
import { idParams, isWellFormed, notFound } from "./common.ts";

export const runDetailResponse = runResponse.extend({
  actions: z.array(actionResponse).describe("Results of the latest attempt, in recording order"),
  attempts: z
    .array(attemptResponse)
    .describe("Every ended attempt, first first, each with its own evidence (a retried one included)"),
});

export function registerGetRun(app: FastifyInstance, deps: { db: DbHandle }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/runs/:id",
    {
      config: { scope: "runs:read" },
      schema: {
        summary:
          "A run: status, attempt, timings, counts, error, per-action results of its latest attempt, and every attempt's evidence",
        tags: ["runs"],
        params: idParams("run"),
        response: { 200: runDetailResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const run = isWellFormed("run", id) ? await getRun(deps.db.db, request.projectId, id) : null;
      if (!run) throw notFound("run", id);
      return runDetail(deps.db, run);
    },
  );
}

/** A run as `GET /api/runs/:id` shows it (also the first event of its stream). */
export async function runDetail(db: DbHandle, run: Run): Promise<z.infer<typeof runDetailResponse>> {
  const [attempts, actions] =
    run.attempt > 0
      ? await Promise.all([
          getRunAttempts(db.db, run.projectId, run.id),
          getAllRunActions(db.db, run.projectId, run.id),
        ])
      : [[], []];
  const ofAttempt = (attempt: number) => actions.filter((a) => a.attempt === attempt);
  return {
    ...runView(run),
    actions: ofAttempt(run.attempt).map((a) => actionView(run.id, a)),
    attempts: attempts.map((a) => attemptView(run.id, a, ofAttempt(a.attempt))),
  };
}
