import { redactRecording } from "@conveyor/core";
import { type DbHandle, getRecording } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { recordingView } from "../views.ts";
import { idParams, isWellFormed, notFound } from "./common.ts";

export function registerGetRecording(app: FastifyInstance, deps: { db: DbHandle }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/recordings/:id",
    {
      config: { scope: "recordings:read" },
      schema: { summary: "A recording, with its actions", tags: ["recordings"], params: idParams("recording") },
    },
    async (request) => {
      const { id } = request.params;
      const row = isWellFormed("recording", id) ? await getRecording(deps.db.db, request.projectId, id) : null;
      if (!row) throw notFound("recording", id);
      return { ...recordingView(row), recording: redactRecording(row.recording) };
    },
  );
}
