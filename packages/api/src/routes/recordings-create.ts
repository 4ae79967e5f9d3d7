import type { EgressPolicy } from "@conveyor/core";
import { type DbHandle, getProjectEgressAllow, insertRecording } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { assertRecordingReachable } from "../egress-check.ts";
import { assertRecordingSize } from "../limits-check.ts";
import type { ProjectLimitsCache } from "../project-limits.ts";
import { importRecordingInput, recordingInputSchema } from "../recording-input.ts";
import type { Secrets } from "../secrets.ts";
import { errorResponses, recordingResponse, recordingView } from "../views.ts";

export const createRecordingBody = recordingInputSchema;

export const createRecordingResponse = recordingResponse.extend({
  warnings: z
    .array(z.object({ index: z.number().optional(), actionId: z.string().optional(), message: z.string() }))
    .describe("What the import dropped or changed (SaveAction exports)"),
});

export function registerCreateRecording(
  app: FastifyInstance,
  deps: { db: DbHandle; secrets: Secrets; egressPolicy: EgressPolicy; projectLimits: ProjectLimitsCache },
): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/api/recordings",
    {
      config: { scope: "recordings:write" },
      schema: {
        summary: "Store a recording (the body is the recording itself, canonical or a SaveAction export)",
        tags: ["recordings"],
        body: createRecordingBody,
        response: { 201: createRecordingResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      assertRecordingSize(request.body, await deps.projectLimits.get(request.projectId), "body");
      const imported = importRecordingInput(request.body, "body");
      await assertRecordingReachable(imported.recording, "body", deps.egressPolicy, () =>
        getProjectEgressAllow(deps.db.db, request.projectId),
      );
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
