import { type DbHandle, getRecording, updateRecording } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, recordingResponse, recordingView } from "../views.ts";
import { idParams, isWellFormed, notFound, tagsInput } from "./common.ts";

/** Fields not sent stay as they are (an empty body changes nothing). */
export const updateRecordingBody = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  /** Replaces the recording's tags (suites select recordings by them). */
  tags: tagsInput.optional(),
});

export function registerUpdateRecording(app: FastifyInstance, deps: { db: DbHandle }): void {
  app.withTypeProvider<ZodTypeProvider>().patch(
    "/api/recordings/:id",
    {
      config: { scope: "recordings:write" },
      schema: {
        summary: "Rename a recording or replace its tags (runs already made keep their copy)",
        tags: ["recordings"],
        params: idParams("recording"),
        body: updateRecordingBody,
        response: { 200: recordingResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { body, projectId } = request;
      const changes = {
        ...(body.name === undefined ? {} : { name: body.name }),
        ...(body.tags === undefined ? {} : { tags: body.tags }),
      };
      const row = !isWellFormed("recording", id)
        ? null
        : Object.keys(changes).length === 0
          ? await getRecording(deps.db.db, projectId, id)
          : await updateRecording(deps.db.db, projectId, id, changes);
      if (!row) throw notFound("recording", id);
      return recordingView(row);
    },
  );
}
