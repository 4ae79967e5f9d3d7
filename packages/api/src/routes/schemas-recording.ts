import { recordingSchema } from "@conveyor/core";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { errorResponses } from "../views.ts";

/** The canonical recording format as JSON Schema (draft 2020-12), for editors and generators. */
export function registerRecordingSchema(app: FastifyInstance): void {
  const document = {
    $id: "https://conveyor.dev/schemas/recording.json",
    title: "Conveyor recording",
    description: "The canonical recording format (docs/recording-format.md). SaveAction exports are accepted too.",
    ...z.toJSONSchema(recordingSchema, { io: "input", unrepresentable: "any" }),
  };
  app.get(
    "/api/schemas/recording.json",
    {
      config: { auth: "public" },
      schema: {
        summary: "JSON Schema of the canonical recording format",
        tags: ["recordings"],
        response: {
          200: z.record(z.string(), z.unknown()).describe("A JSON Schema (draft 2020-12)"),
          ...errorResponses,
        },
      },
    },
    async (_request, reply) => reply.type("application/schema+json").send(document),
  );
}
