import { ApiError, importRecording, type Recording, RecordingImportError } from "@conveyor/core";
import { z } from "zod";

/**
 * A recording as clients send it: the canonical format or a SaveAction recorder export (plain,
 * or the `{ "data": … }` upload shape). Validated by the importer, not the route schema, so the
 * error can say which format was meant and which field is wrong.
 */
export const recordingInputSchema = z
  .record(z.string(), z.unknown())
  .describe(
    "A recording: the canonical format (GET /api/schemas/recording.json, docs/recording-format.md) or a SaveAction recorder export, unchanged",
  );

export interface ImportedRecording {
  recording: Recording;
  format: "conveyor" | "saveaction";
  warnings: { index?: number; actionId?: string; message: string }[];
}

/** Imports a recording from a request; a bad one is a 400 whose fields start with `fieldPrefix`. */
export function importRecordingInput(body: unknown, fieldPrefix: string): ImportedRecording {
  try {
    const imported = importRecording(body);
    return {
      recording: imported.recording,
      format: imported.format,
      warnings: imported.warnings.map((w) => ({ ...w })),
    };
  } catch (error) {
    if (!(error instanceof RecordingImportError)) throw error;
    const fields = error.issues.map((issue) => ({
      field: issue.path ? `${fieldPrefix}.${issue.path}`.replace(/\.\[/g, "[") : fieldPrefix,
      message: issue.message,
    }));
    const first = fields[0];
    throw new ApiError(
      "validation_failed",
      first
        ? `${first.field}: ${first.message}${fields.length > 1 ? ` (and ${fields.length - 1} more)` : ""}`
        : error.message,
      { fields, hint: error.message },
    );
  }
}
