import { type DbHandle, listDeadLetters } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, pageResponse, runResponse, runView } from "../views.ts";
import { paginationQuery, parseCursor } from "./common.ts";

export const listDeadLettersQuery = z.object(paginationQuery);

export function registerListDeadLetters(app: FastifyInstance, deps: { db: DbHandle }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/dead-letters",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "Runs the queue gave up on (retries or stall recoveries exhausted), newest first",
        description:
          "Each ended `errored`; `attempt` says how many executions were tried. Replay one with POST /api/runs/:id/retry.",
        tags: ["runs"],
        querystring: listDeadLettersQuery,
        response: { 200: pageResponse(runResponse), ...errorResponses },
      },
    },
    async (request) => {
      const page = await listDeadLetters(deps.db.db, request.projectId, {
        limit: request.query.limit,
        cursor: parseCursor(request.query.cursor),
      });
      return { items: page.items.map(runView), nextCursor: page.nextCursor };
    },
  );
}
