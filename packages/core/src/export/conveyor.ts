import type { Recording } from "../recording.ts";
import { type ExportVariable, prepareForExport } from "./shared.ts";

export interface ConveyorExport {
  /** The recording, without its sensitive values. */
  recording: Recording;
  /** The recording as a file: pretty JSON, which POST /api/recordings and `pnpm replay` accept back. */
  content: string;
  /** The variables it declares, generated ones included. */
  variables: ExportVariable[];
}

/**
 * The canonical recording itself, as a file to keep, edit or upload elsewhere. Sensitive values are
 * removed (see prepareForExport): a sensitive input's value becomes a sensitive `${NAME}` variable,
 * declared without a default, to pass when running it.
 */
export function exportConveyor(input: Recording): ConveyorExport {
  const { recording, variables } = prepareForExport(input);
  return {
    recording,
    content: `${JSON.stringify(recording, null, 2)}\n`,
    variables: [...variables.values()],
  };
}
