import { ApiError, importRecording, type Recording, type RecordingFormat, RecordingImportError } from "@conveyor/core";
import { z } from "zod";

/**
 * A recording as clients send it: the canonical format, a SaveAction recorder export (plain, or
 * the `{ "data": … }` upload shape) or a Chrome DevTools Recorder export. Validated by the
 * importer, not the route schema, so the error can say which format was meant and which field is
 * wrong.
 */
export const recordingInputSchema = z
  .record(z.string(), z.unknown())
  .describe(
    "A recording: the canonical format (GET /api/schemas/recording.json, docs/recording-format.md), a SaveAction recorder export or a Chrome DevTools Recorder export (JSON), unchanged",
  );

/** What the importer said about a step or action it changed or left out. */
export const importWarningResponse = z.object({
  index: z.number().optional().describe("Position of the action (SaveAction) or step (Chrome) in the upload"),
  actionId: z.string().optional(),
  type: z.string().optional().describe("The source action's or step's type"),
  path: z.string().optional().describe("Where in the upload: `steps[3]`, `actions[5]`, `title`"),
  message: z.string(),
});
export type ImportWarningView = z.infer<typeof importWarningResponse>;

export interface ImportedRecording {
  recording: Recording;
  format: RecordingFormat;
  warnings: ImportWarningView[];
  /** For each canonical action, where it came from in the upload (`steps[3]`); absent for canonical input. */
  actionSources?: string[];
  /** The upload as received (imported formats only), sensitive values redacted: stored beside the recording. */
  original?: unknown;
}

/**
 * Imports a recording from a request; a bad one is a 400 whose fields start with `fieldPrefix`.
 * Its message leads with the first wrong field, or, for a body in no known format, with what
 * the body looks like and what is accepted.
 */
export function importRecordingInput(body: unknown, fieldPrefix: string): ImportedRecording {
  try {
    const imported = importRecording(body);
    return {
      recording: imported.recording,
      format: imported.format,
      warnings: imported.warnings.map((w) => ({ ...w })),
      ...(imported.actionSources === undefined ? {} : { actionSources: imported.actionSources }),
      ...(imported.original === undefined ? {} : { original: imported.original }),
    };
  } catch (error) {
    if (!(error instanceof RecordingImportError)) throw error;
    const fields = error.issues.map((issue) => ({
      field: uploadField(fieldPrefix, issue.path),
      message: issue.message,
    }));
    const first = fields[0];
    throw new ApiError(
      "validation_failed",
      first && !error.unknownFormat
        ? `${first.field}: ${first.message}${fields.length > 1 ? ` (and ${fields.length - 1} more)` : ""}`
        : error.message,
      { fields, hint: error.message },
    );
  }
}

/** A path into the upload (`steps[3].url`, `(root)` for the upload itself) as a request field. */
export function uploadField(fieldPrefix: string, path: string): string {
  return path && path !== "(root)" ? `${fieldPrefix}.${path}`.replace(/\.\[/g, "[") : fieldPrefix;
}
