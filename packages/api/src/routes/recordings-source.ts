import { ApiError } from "@conveyor/core";
import { type DbHandle, getRecording, getRecordingSource } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses } from "../views.ts";
import { idParams, isWellFormed, notFound } from "./common.ts";

export const recordingSourceResponse = z
  .record(z.string(), z.unknown())
  .describe(
    'The export as it was uploaded (SaveAction or Chrome DevTools Recorder JSON), keys in their order; values of sensitive inputs are "[redacted]"',
  );

/**
 * GET /api/recordings/:id/source: what an imported recording was uploaded as, to download and
 * open again in the tool that made it. A recording sent in the canonical format has none (its
 * `recording` is what was sent): 404 saying so.
 */
export function registerGetRecordingSource(app: FastifyInstance, deps: { db: DbHandle }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/recordings/:id/source",
    {
      config: { scope: "recordings:read" },
      schema: {
        summary: "What an imported recording was uploaded as (its SaveAction or Chrome DevTools Recorder export)",
        tags: ["recordings"],
        params: idParams("recording"),
        response: { 200: recordingSourceResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      if (!isWellFormed("recording", id)) throw notFound("recording", id);
      const source = await getRecordingSource(deps.db.db, request.projectId, id);
      if (source) return source.body as Record<string, unknown>;
      if (!(await getRecording(deps.db.db, request.projectId, id))) throw notFound("recording", id);
      throw new ApiError(
        "not_found",
        `Recording ${id} was sent in the canonical format: it has no other original (GET /api/recordings/${id} shows it)`,
      );
    },
  );
}
