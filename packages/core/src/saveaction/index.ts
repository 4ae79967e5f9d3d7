// The SaveAction recorder importer: docs/recording-import.md describes the mapping.
export { detectFormat, type ImportedRecording, importRecording, type RecordingFormat } from "./detect.ts";
export { type ImportIssue, RecordingImportError } from "./errors.ts";
export {
  type DroppedAction,
  type DropReason,
  type ImportResult,
  type ImportSource,
  type ImportWarning,
  importSaveAction,
  unwrapSaveActionUpload,
} from "./import.ts";
export { SAVEACTION_ACTION_TYPES, type SaveActionActionType } from "./schema.ts";
