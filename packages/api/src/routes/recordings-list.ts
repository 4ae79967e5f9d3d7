import { type DbHandle, listRecordings } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, pageResponse, recordingResponse, recordingView } from "../views.ts";
import { paginationQuery, parseCursor, tagInput } from "./common.ts";

export const listRecordingsQuery = z.object({
  ...paginationQuery,
  /** Only recordings with this tag. */
  tag: tagInput.optional(),
});

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
        ...(request.query.tag === undefined ? {} : { tag: request.query.tag }),
        cursor: parseCursor(request.query.cursor),
      });
      return { items: page.items.map((row) => recordingView(row)), nextCursor: page.nextCursor };
    },
  );
}
