import { type DbHandle, listRecordings } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, pageResponse, recordingResponse, recordingView } from "../views.ts";
import { paginationQuery, parseCursor } from "./common.ts";

export const listRecordingsQuery = z.object(paginationQuery);

export function registerListRecordings(app: FastifyInstance, deps: { db: DbHandle }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/recordings",
    {
      config: { scope: "recordings:read" },
      schema: {
        summary: "List recordings, newest first",
        tags: ["recordings"],
        querystring: listRecordingsQuery,
        response: { 200: pageResponse(recordingResponse), ...errorResponses },
      },
    },
    async (request) => {
      const page = await listRecordings(deps.db.db, request.projectId, {
        limit: request.query.limit,
        cursor: parseCursor(request.query.cursor),
      });
      return { items: page.items.map(recordingView), nextCursor: page.nextCursor };
    },
  );
}
