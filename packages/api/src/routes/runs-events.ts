import { type DbHandle, getRun, getRunEvents } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, runEventResponse } from "../views.ts";
import { idParams, isWellFormed, notFound } from "./common.ts";

export function registerGetRunEvents(app: FastifyInstance, deps: { db: DbHandle }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/runs/:id/events",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "The run's event log, oldest first",
        tags: ["runs"],
        params: idParams("run"),
        response: { 200: z.object({ items: z.array(runEventResponse) }), ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const run = isWellFormed("run", id) ? await getRun(deps.db.db, request.projectId, id) : null;
      if (!run) throw notFound("run", id);
      const events = await getRunEvents(deps.db.db, request.projectId, id);
      return {
        items: events.map((e) => ({
          id: e.id,
          type: e.type,
          attempt: e.attempt,
          worker: e.worker,
          data: e.data,
          createdAt: e.createdAt.toISOString(),
        })),
      };
    },
  );
}
