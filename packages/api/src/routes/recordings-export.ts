import { EXPORT_FORMATS, type ExportWarning, exportRecording, recordingSchema } from "@conveyor/core";
import { type DbHandle, getRecording } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses } from "../views.ts";
import { idParams, isWellFormed, notFound } from "./common.ts";

export const exportQuery = z.object({
  /** Which file to write. Default playwright. */
  format: z
    .enum(EXPORT_FORMATS, { error: `expected one of ${EXPORT_FORMATS.join(", ")}` })
    .default("playwright")
    .describe(
      "playwright: a Playwright Test file (.spec.ts); chrome-recorder: a Chrome DevTools Recorder recording (JSON); conveyor: the canonical recording (JSON)",
    ),
});

/** The header listing what an export could only approximate or left out: a JSON array of strings. */
export const EXPORT_WARNINGS_HEADER = "x-export-warnings";
/** Longest value of that header, in characters: proxies refuse headers of more than a few KiB. */
const MAX_WARNINGS_HEADER_LENGTH = 4000;

/**
 * The warnings as a header value: a JSON array of messages (`action 3 (a3, check): …`), with
 * every character outside printable ASCII escaped (a header carries no more), cut to fit with a
 * last entry counting those left out.
 */
export function warningsHeader(warnings: readonly ExportWarning[]): string {
  const messages = warnings.map((warning) =>
    warning.index === undefined
      ? warning.message
      : `action ${warning.index + 1} (${warning.actionId ?? ""}, ${warning.type ?? ""}): ${warning.message}`,
  );
  const encode = (list: string[]) =>
    JSON.stringify(list).replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`);
  for (let kept = messages.length; kept >= 0; kept--) {
    const left = messages.length - kept;
    const value = encode(left === 0 ? messages : [...messages.slice(0, kept), `… and ${left} more`]);
    if (value.length <= MAX_WARNINGS_HEADER_LENGTH) return value;
  }
  return encode([`${messages.length} warnings`]);
}

export function registerExportRecording(
  app: FastifyInstance,
  deps: { db: DbHandle; defaults: { actionTimeoutMs: number; runTimeoutMs: number } },
): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/recordings/:id/export",
    {
      config: { scope: "recordings:read" },
      schema: {
        summary: "A recording as a file for another tool: a Playwright test, a Chrome DevTools Recorder recording",
        description:
          "Sensitive values are never written: the file reads them from the environment (Playwright) or as variables to pass (conveyor). " +
          `What the format cannot express is listed in the ${EXPORT_WARNINGS_HEADER} header (a JSON array of strings). docs/recording-export.md`,
        tags: ["recordings"],
        params: idParams("recording"),
        querystring: exportQuery,
        response: {
          200: z
            .string()
            .describe(
              "The file, as an attachment: text/plain for playwright, application/json for chrome-recorder and conveyor",
            ),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const row = isWellFormed("recording", id) ? await getRecording(deps.db.db, request.projectId, id) : null;
      if (!row) throw notFound("recording", id);
      const exported = exportRecording(recordingSchema.parse(row.recording), request.query.format, {
        actionTimeoutMs: deps.defaults.actionTimeoutMs,
        runTimeoutMs: deps.defaults.runTimeoutMs,
        source: `recording ${row.id}`,
      });
      return reply
        .type(exported.contentType)
        .header("content-disposition", `attachment; filename="${exported.fileName}"`)
        .header("cache-control", "no-store")
        .header("x-content-type-options", "nosniff")
        .header(EXPORT_WARNINGS_HEADER, warningsHeader(exported.warnings))
        .send(exported.content);
    },
  );
}
