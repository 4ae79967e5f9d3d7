import { ApiError, cancelChannel } from "@conveyor/core";
import { cancelQueuedRun, type DbHandle, requestRunCancel } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Redis } from "ioredis";
import { z } from "zod";
import type { RunQueue } from "../queue.ts";
import { errorResponses, runResponse, runView } from "../views.ts";
import { idParams, isWellFormed, notFound } from "./common.ts";

export interface CancelRunDeps {
  db: DbHandle;
  queue: RunQueue;
  /** Publishes cancel requests to the workers. */
  redis: Redis;
  queuePrefix: string;
}

export function registerCancelRun(app: FastifyInstance, deps: CancelRunDeps): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/api/runs/:id/cancel",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Cancel a queued or running run",
        description:
          "A queued run leaves the queue and ends `cancelled` (200). A running run is stopped inside its current action by the worker that holds it and ends `cancelled` within about a second (202; poll the run). A finished run answers 409.",
        tags: ["runs"],
        params: idParams("run"),
        response: {
          200: runResponse.describe("Cancelled while queued (or already finished meanwhile): the run"),
          202: runResponse
            .extend({ cancelRequested: z.literal(true) })
            .describe("Running: the cancel was requested, the run ends `cancelled` shortly"),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { projectId } = request;
      if (!isWellFormed("run", id)) throw notFound("run", id);
      const queued = await cancelQueuedRun(deps.db.db, projectId, id);
      if (!queued) throw notFound("run", id);
      if (queued.cancelled) {
        // Postgres is the truth: even if the job stays in Redis (a worker grabbed it this very
        // moment), the worker's claim needs `queued` and will skip it.
        await deps.queue.withdraw(id).catch((error: unknown) => {
          request.log.warn(
            { err: error, runId: id },
            "could not remove the cancelled run's job; the worker will skip it",
          );
        });
        // A suite run's child freed its slot (maxParallel): the siblings it released get their jobs.
        for (const released of queued.released) {
          await deps.queue.deliver(released, (error) =>
            request.log.warn(
              { err: error, runId: released.id },
              "enqueue failed; a worker's reconciler will enqueue the run",
            ),
          );
        }
        return runView(queued.run);
      }
      if (queued.run.status === "running") {
        const running = await requestRunCancel(deps.db.db, projectId, id);
        if (running && (running.requested || running.run.cancelRequestedAt)) {
          // Every worker hears it; the one holding the run aborts it. A worker that misses the
          // message (reconnecting) still sees the flag when the run is claimed again.
          await deps.redis.publish(cancelChannel(deps.queuePrefix), id);
          return reply.code(202).send({ ...runView(running.run), cancelRequested: true });
        }
        if (running) return runView(running.run); // finished in the meantime
      }
      throw new ApiError("conflict", `Run ${id} already finished as ${queued.run.status}; there is nothing to cancel`);
    },
  );
}
