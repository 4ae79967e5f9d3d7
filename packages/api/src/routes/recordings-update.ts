import { ApiError } from "@conveyor/core";
import { type DbHandle, getRecording, updateRecording } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Secrets } from "../secrets.ts";
import { errorResponses, recordingResponse, recordingView } from "../views.ts";
import { idParams, isWellFormed, notFound, tagsInput, variableDefaultsInput } from "./common.ts";

/** Fields not sent stay as they are (an empty body changes nothing). */
export const updateRecordingBody = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  /** Replaces the recording's tags (suites select recordings by them). */
  tags: tagsInput.optional(),
  /**
   * New defaults of variables the recording declares, by name; null removes one. Variables not
   * named keep theirs. Defaults of sensitive variables are stored encrypted and never shown.
   */
  variables: variableDefaultsInput
    .optional()
    .describe("{ NAME: new default | null }, for variables the recording declares"),
});

export function registerUpdateRecording(app: FastifyInstance, deps: { db: DbHandle; secrets: Secrets }): void {
  app.withTypeProvider<ZodTypeProvider>().patch(
    "/api/recordings/:id",
    {
      config: { scope: "recordings:write" },
      schema: {
        summary:
          "Rename a recording, replace its tags or set its variables' defaults (runs already made keep their copy)",
        tags: ["recordings"],
        params: idParams("recording"),
        body: updateRecordingBody,
        response: { 200: recordingResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const { body, projectId } = request;
      if (!isWellFormed("recording", id)) throw notFound("recording", id);
      const variableDefaults =
        body.variables === undefined || Object.keys(body.variables).length === 0
          ? undefined
          : await sealedDefaults(deps, projectId, id, body.variables);
      const changes = {
        ...(body.name === undefined ? {} : { name: body.name }),
        ...(body.tags === undefined ? {} : { tags: body.tags }),
        ...(variableDefaults === undefined ? {} : { variableDefaults }),
      };
      const row =
        Object.keys(changes).length === 0
          ? await getRecording(deps.db.db, projectId, id)
          : await updateRecording(deps.db.db, projectId, id, changes);
      if (!row) throw notFound("recording", id);
      return recordingView(row);
    },
  );
}

/**
 * The new defaults as they are to be stored: each names a variable the recording declares (else a
 * 400 naming it), and those of sensitive variables are sealed (refused without SECRETS_KEY).
 */
async function sealedDefaults(
  deps: { db: DbHandle; secrets: Secrets },
  projectId: string,
  id: string,
  variables: Record<string, string | null>,
): Promise<Record<string, string | null>> {
  const row = await getRecording(deps.db.db, projectId, id);
  if (!row) throw notFound("recording", id);
  const declared = new Set((row.recording.variables ?? []).map((variable) => variable.name));
  const undeclared = Object.keys(variables).filter((name) => !declared.has(name));
  if (undeclared.length > 0) {
    const fields = undeclared.map((name) => ({
      field: `body.variables.${name}`,
      message: `the recording declares no variable ${name}`,
    }));
    throw new ApiError(
      "validation_failed",
      `body.variables.${undeclared[0]}: the recording declares no variable ${undeclared[0]}; it declares ${[...declared].join(", ") || "none"}`,
      { fields },
    );
  }
  const values = Object.fromEntries(
    Object.entries(variables).filter((entry): entry is [string, string] => entry[1] !== null),
  );
  const sealed = deps.secrets.sealVariables(values, row.recording, (name) => `body.variables.${name}`);
  return Object.fromEntries(
    Object.entries(variables).map(([name, value]) => [name, value === null ? null : (sealed[name] ?? value)]),
  );
}
