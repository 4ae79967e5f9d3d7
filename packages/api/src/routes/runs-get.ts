import { type DbHandle, getRun, getRunActions } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { actionResponse, actionView, errorResponses, runResponse, runView } from "../views.ts";
import { idParams, isWellFormed, notFound } from "./common.ts";

export const runDetailResponse = runResponse.extend({
  actions: z.array(actionResponse).describe("Results of the latest attempt, in recording order"),
});

export function registerGetRun(app: FastifyInstance, deps: { db: DbHandle }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/runs/:id",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "A run: status, attempt, timings, counts, error and per-action results of its latest attempt",
        tags: ["runs"],
        params: idParams("run"),
        response: { 200: runDetailResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const run = isWellFormed("run", id) ? await getRun(deps.db.db, request.projectId, id) : null;
      if (!run) throw notFound("run", id);
      const actions = run.attempt > 0 ? await getRunActions(deps.db.db, request.projectId, id, run.attempt) : [];
      return { ...runView(run), actions: actions.map((a) => actionView(run.id, a)) };
    },
  );
}
