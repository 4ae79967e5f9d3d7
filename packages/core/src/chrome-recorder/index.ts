// The Chrome DevTools Recorder importer: docs/recording-import.md describes the mapping.
export {
  type ChromeImportResult,
  type ChromeRecorderSource,
  type DroppedStep,
  importChromeRecording,
  isChromeSingleStep,
  type StepDropReason,
} from "./import.ts";
export { CHROME_STEP_TYPES, type ChromeStepType } from "./schema.ts";
