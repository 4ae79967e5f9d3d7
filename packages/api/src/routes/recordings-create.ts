import type { EgressPolicy } from "@conveyor/core";
import { type DbHandle, getProjectAllowExpressions, getProjectEgressAllow, insertRecording } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { assertRecordingReachable } from "../egress-check.ts";
import { assertExpressionsAllowed } from "../expression-check.ts";
import { assertRecordingSize } from "../limits-check.ts";
import type { ProjectLimitsCache } from "../project-limits.ts";
import { importRecordingInput, importWarningResponse, recordingInputSchema } from "../recording-input.ts";
import type { Secrets } from "../secrets.ts";
import { errorResponses, recordingResponse, recordingView } from "../views.ts";

export const createRecordingBody = recordingInputSchema;

export const createRecordingResponse = recordingResponse.extend({
  warnings: z
    .array(importWarningResponse)
    .describe("What the import dropped or changed (SaveAction and Chrome DevTools Recorder exports), per step"),
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
        summary:
          "Store a recording (the body is the recording itself: canonical, a SaveAction export or a Chrome DevTools Recorder export)",
        tags: ["recordings"],
        body: createRecordingBody,
        response: { 201: createRecordingResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      assertRecordingSize(request.body, await deps.projectLimits.get(request.projectId), "body");
      const imported = importRecordingInput(request.body, "body");
      await assertExpressionsAllowed(imported, "body", () => getProjectAllowExpressions(deps.db.db, request.projectId));
      await assertRecordingReachable(
        imported.recording,
        "body",
        deps.egressPolicy,
        () => getProjectEgressAllow(deps.db.db, request.projectId),
        imported.actionSources,
      );
      const recording = deps.secrets.sealRecording(imported.recording);
      const row = await insertRecording(deps.db.db, request.projectId, {
        name: recording.name,
        recording,
        sourceFormat: imported.format,
        actionCount: recording.actions.length,
        // What an export was uploaded as, its secrets redacted by the importer (GET …/source).
        ...(imported.original === undefined ? {} : { original: imported.original }),
      });
      return reply
        .code(201)
        .header("location", `/api/recordings/${row.id}`)
        .send({ ...recordingView(row), warnings: imported.warnings });
    },
  );
}
