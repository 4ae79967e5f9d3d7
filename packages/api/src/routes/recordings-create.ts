import { type DbHandle, insertRecording } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { importRecordingInput, recordingInputSchema } from "../recording-input.ts";
import type { Secrets } from "../secrets.ts";
import { recordingView } from "../views.ts";

export const createRecordingBody = recordingInputSchema;

export function registerCreateRecording(app: FastifyInstance, deps: { db: DbHandle; secrets: Secrets }): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/api/recordings",
    {
      schema: {
        summary: "Store a recording (the body is the recording itself, canonical or a SaveAction export)",
        tags: ["recordings"],
        body: createRecordingBody,
      },
    },
    async (request, reply) => {
      const imported = importRecordingInput(request.body, "body");
      const recording = deps.secrets.sealRecording(imported.recording);
      const row = await insertRecording(deps.db.db, request.projectId, {
        name: recording.name,
        recording,
        sourceFormat: imported.format,
        actionCount: recording.actions.length,
      });
      return reply
        .code(201)
        .header("location", `/api/recordings/${row.id}`)
        .send({ ...recordingView(row), warnings: imported.warnings });
    },
  );
}
