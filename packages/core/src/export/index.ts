// Exporters: a canonical recording written as another tool's file. docs/recording-export.md.
import type { Recording } from "../recording.ts";
import { exportChromeRecorder } from "./chrome-recorder.ts";
import { exportConveyor } from "./conveyor.ts";
import { exportPlaywright, type PlaywrightExportOptions } from "./playwright.ts";
import { type ExportWarning, exportFileName } from "./shared.ts";

export {
  type ChromeRecorderExport,
  exportChromeRecorder,
  type RecorderFlow,
  type RecorderStep,
} from "./chrome-recorder.ts";
export { type ConveyorExport, exportConveyor } from "./conveyor.ts";
export { exportPlaywright, jsString, type PlaywrightExport, type PlaywrightExportOptions } from "./playwright.ts";
export { type ExportVariable, type ExportWarning, exportFileName, prepareForExport } from "./shared.ts";

export const EXPORT_FORMATS = ["playwright", "chrome-recorder", "conveyor"] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export function isExportFormat(value: string): value is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(value);
}

/** An exported file: what to save, under which name, and what the export could only approximate. */
export interface RecordingExport {
  format: ExportFormat;
  content: string;
  /** `text/plain; charset=utf-8` for a Playwright test, `application/json; charset=utf-8` otherwise. */
  contentType: string;
  /** From the recording's name: `login-flow.spec.ts`, `login-flow.recorder.json`, `login-flow.conveyor.json`. */
  fileName: string;
  warnings: ExportWarning[];
  /** Names of the environment variables (Playwright) or run variables (Conveyor) the file needs; none for the Recorder. */
  variables: string[];
}

export type ExportOptions = PlaywrightExportOptions;

/** Writes `recording` in `format`. No sensitive value is ever written, whatever the format. */
export function exportRecording(
  recording: Recording,
  format: ExportFormat,
  options: ExportOptions = {},
): RecordingExport {
  switch (format) {
    case "playwright": {
      const out = exportPlaywright(recording, options);
      return {
        format,
        content: out.content,
        contentType: "text/plain; charset=utf-8",
        fileName: exportFileName(recording.name, ".spec.ts"),
        warnings: out.warnings,
        variables: out.variables.map((variable) => variable.name),
      };
    }
    case "chrome-recorder": {
      const out = exportChromeRecorder(recording);
      return {
        format,
        content: out.content,
        contentType: "application/json; charset=utf-8",
        fileName: exportFileName(recording.name, ".recorder.json"),
        warnings: out.warnings,
        variables: [],
      };
    }
    case "conveyor": {
      const out = exportConveyor(recording);
      return {
        format,
        content: out.content,
        contentType: "application/json; charset=utf-8",
        fileName: exportFileName(recording.name, ".conveyor.json"),
        warnings: [],
        variables: out.variables.map((variable) => variable.name),
      };
    }
    default: {
      const unreachable: never = format;
      throw new Error(`Unknown export format ${String(unreachable)}`);
    }
  }
}
