// The SaveAction recorder importer, and the entry point for every format (detect.ts):
// docs/recording-import.md describes the mappings.
export {
  detectFormat,
  expressionActions,
  type ImportedRecording,
  importRecording,
  RECORDING_FORMATS,
  type RecordingFormat,
} from "./detect.ts";
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
