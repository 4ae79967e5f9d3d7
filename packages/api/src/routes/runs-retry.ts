import { ApiError } from "@conveyor/core";
import { createRetryRun, type DbHandle } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { RunQueue } from "../queue.ts";
import { errorResponses, runResponse, runView } from "../views.ts";
import { idParams, isWellFormed, notFound } from "./common.ts";

export function registerRetryRun(app: FastifyInstance, deps: { db: DbHandle; queue: RunQueue }): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/api/runs/:id/retry",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Run a finished run again, as a new run linked to it",
        description:
          "The new run has the original's recording, variables, options and priority, and `retryOf` set. 202 like POST /api/runs; 409 while the original is still queued or running.",
        tags: ["runs"],
        params: idParams("run"),
        response: { 202: runResponse.describe("The new queued run"), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const result = isWellFormed("run", id) ? await createRetryRun(deps.db.db, request.projectId, id) : null;
      if (!result) throw notFound("run", id);
      if ("notFinished" in result) {
        throw new ApiError(
          "conflict",
          `Run ${id} is still ${result.notFinished.status}; retry it once it has finished`,
        );
      }
      try {
        await deps.queue.enqueue(result.run);
      } catch (error) {
        request.log.warn(
          { err: error, runId: result.run.id },
          "enqueue failed; a worker's reconciler will enqueue the run",
        );
      }
      return reply.code(202).header("location", `/api/runs/${result.run.id}`).send(runView(result.run));
    },
  );
}
