import { type DbHandle, deleteRecording } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { errorResponses, noContent } from "../views.ts";
import { idParams, isWellFormed, notFound } from "./common.ts";

export function registerDeleteRecording(app: FastifyInstance, deps: { db: DbHandle }): void {
  app.withTypeProvider<ZodTypeProvider>().delete(
    "/api/recordings/:id",
    {
      config: { scope: "recordings:write" },
      schema: {
        summary: "Delete a recording (runs made from it keep their copy)",
        tags: ["recordings"],
        params: idParams("recording"),
        response: { 204: noContent("Deleted"), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const deleted = isWellFormed("recording", id) && (await deleteRecording(deps.db.db, request.projectId, id));
      if (!deleted) throw notFound("recording", id);
      return reply.code(204).send();
    },
  );
}
