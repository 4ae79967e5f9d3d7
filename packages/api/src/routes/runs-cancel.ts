import { ApiError } from "@conveyor/core";
import { cancelQueuedRun, type DbHandle } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { RunQueue } from "../queue.ts";
import { runView } from "../views.ts";
import { idParams, isWellFormed, notFound } from "./common.ts";

export function registerCancelRun(app: FastifyInstance, deps: { db: DbHandle; queue: RunQueue }): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/api/runs/:id/cancel",
    {
      schema: {
        summary: "Cancel a queued run",
        description: "A queued run leaves the queue and ends `cancelled`. A finished run answers 409.",
        tags: ["runs"],
        params: idParams("run"),
      },
    },
    async (request) => {
      const { id } = request.params;
      const result = isWellFormed("run", id) ? await cancelQueuedRun(deps.db.db, request.projectId, id) : null;
      if (!result) throw notFound("run", id);
      const { run, cancelled } = result;
      if (cancelled) {
        // Postgres is the truth: even if the job stays in Redis (a worker grabbed it this very
        // moment), the worker's claim needs `queued` and will skip it.
        await deps.queue.withdraw(id).catch((error: unknown) => {
          request.log.warn(
            { err: error, runId: id },
            "could not remove the cancelled run's job; the worker will skip it",
          );
        });
        return runView(run);
      }
      if (run.status === "running") {
        throw new ApiError("conflict", `Run ${id} is already running; cancelling a running run is not supported yet`);
      }
      throw new ApiError("conflict", `Run ${id} already finished as ${run.status}`);
    },
  );
}
