import { redactRecording } from "@conveyor/core";
import { type DbHandle, getRecording } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, recordingResponse, recordingView } from "../views.ts";
import { idParams, isWellFormed, notFound } from "./common.ts";

export const recordingDetailResponse = recordingResponse.extend({
  recording: z
    .record(z.string(), z.unknown())
    .describe("The recording (GET /api/schemas/recording.json), sensitive values redacted"),
});

export function registerGetRecording(app: FastifyInstance, deps: { db: DbHandle }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/recordings/:id",
    {
      config: { scope: "recordings:read" },
      schema: {
        summary: "A recording, with its actions",
        tags: ["recordings"],
        params: idParams("recording"),
        response: { 200: recordingDetailResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const row = isWellFormed("recording", id) ? await getRecording(deps.db.db, request.projectId, id) : null;
      if (!row) throw notFound("recording", id);
      return { ...recordingView(row), recording: redactRecording(row.recording) };
    },
  );
}
