import type { z } from "zod";
import { ACTION_TYPES, type Recording, recordingSchema } from "../recording.ts";
import { type ImportIssue, MAX_REPORTED_ISSUES, RecordingImportError, zodIssues } from "./errors.ts";
import { type ImportSource, type ImportWarning, importSaveAction, unwrapSaveActionUpload } from "./import.ts";
import { isSaveActionActionType } from "./schema.ts";

export type RecordingFormat = "conveyor" | "saveaction";

export interface ImportedRecording {
  /** Canonical and validated. */
  recording: Recording;
  format: RecordingFormat;
  /** What the import changed or dropped; always empty for canonical input. */
  warnings: ImportWarning[];
  /** For SaveAction input: what the export held and what was left out. */
  source?: ImportSource;
}

/** Action types only SaveAction uses: one is enough to tell the formats apart. */
const SAVEACTION_ONLY_TYPES = new Set(["navigation", "modal-lifecycle", "checkpoint", "dialog"]);
const CANONICAL_TYPES = new Set<string>(ACTION_TYPES);

const ACCEPTED_SHAPES =
  'Send either a Conveyor recording ({ "name", "actions": [{ "type": "click", "selector", … }] }, see ' +
  'docs/recording-format.md) or a SaveAction recorder export as downloaded ({ "testName", "url", "actions", … }, ' +
  'optionally wrapped as { "data": … }; see docs/recording-import.md)';

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function actionType(action: unknown): unknown {
  return isRecord(action) ? action.type : undefined;
}

/**
 * Which format a request body is in. SaveAction: an object (or `{ data: object }`) with an
 * `actions` array and a `testName`, a version string like "1.0.0", or an action only SaveAction
 * writes (a SaveAction type with a legacy `selector` object or a `timestamp`). Conveyor: a
 * `name`, no `testName`, and only canonical action types. Anything else is "unknown".
 */
export function detectFormat(body: unknown): RecordingFormat | "unknown" {
  const recording = unwrapSaveActionUpload(body);
  if (!isRecord(recording) || !Array.isArray(recording.actions)) return "unknown";
  const actions: unknown[] = recording.actions;
  if (looksLikeSaveAction(recording, actions)) return "saveaction";
  if (recording !== body) return "unknown";
  if (
    typeof recording.name === "string" &&
    actions.every((action) => CANONICAL_TYPES.has(String(actionType(action))))
  ) {
    return "conveyor";
  }
  return "unknown";
}

function looksLikeSaveAction(recording: Record<string, unknown>, actions: unknown[]): boolean {
  if (typeof recording.testName === "string") return true;
  if (typeof recording.version === "string" && /^1\.\d+/.test(recording.version)) return true;
  return actions.some((action) => {
    if (!isRecord(action) || !isSaveActionActionType(action.type)) return false;
    if (SAVEACTION_ONLY_TYPES.has(action.type)) return true;
    // Canonical selectors are strings or arrays and canonical actions carry no timestamp.
    return isRecord(action.selector) || typeof action.timestamp === "number";
  });
}

/**
 * The one entry point for recordings users send (POST /api/recordings, POST /api/runs): a
 * canonical recording is validated as it is; a SaveAction export is converted. Throws
 * {@link RecordingImportError} naming what is wrong, and for a body that is neither, what
 * each accepted shape looks like.
 */
export function importRecording(body: unknown): ImportedRecording {
  switch (detectFormat(body)) {
    case "saveaction": {
      const { recording, warnings, source } = importSaveAction(body);
      return { recording, format: "saveaction", warnings, source };
    }
    case "conveyor": {
      const result = recordingSchema.safeParse(body);
      if (!result.success) {
        throw new RecordingImportError("Not a valid Conveyor recording", canonicalIssues(result.error, body));
      }
      return { recording: result.data, format: "conveyor", warnings: [] };
    }
    case "unknown":
      throw unknownFormatError(body);
  }
}

function unknownFormatError(body: unknown): RecordingImportError {
  const recording = unwrapSaveActionUpload(body);
  if (!isRecord(recording)) {
    return new RecordingImportError(`Not a recording: the body is not a JSON object. ${ACCEPTED_SHAPES}`, []);
  }
  const actions = recording.actions;
  const saveActionish =
    typeof recording.testName === "string" ||
    (Array.isArray(actions) &&
      actions.some(
        (action) => isSaveActionActionType(actionType(action)) && !CANONICAL_TYPES.has(String(actionType(action))),
      ));
  if (saveActionish) {
    // Close to a SaveAction export: importing it names the first wrong field.
    try {
      importSaveAction(recording);
    } catch (error) {
      if (error instanceof RecordingImportError) {
        return new RecordingImportError(`Not a valid SaveAction recording. ${ACCEPTED_SHAPES}`, error.issues);
      }
      throw error;
    }
  }
  if (typeof recording.name === "string" || Array.isArray(actions)) {
    const result = recordingSchema.safeParse(recording);
    const issues = result.success ? [] : canonicalIssues(result.error, recording);
    if (issues.length > 0)
      return new RecordingImportError(`Not a valid Conveyor recording. ${ACCEPTED_SHAPES}`, issues);
  }
  return new RecordingImportError(`Not a recording in a known format. ${ACCEPTED_SHAPES}`, [
    { path: "actions", message: Array.isArray(actions) ? "no action type identifies the format" : "is required" },
  ]);
}

/**
 * Canonical validation issues, with an unknown action type named outright: zod's union error
 * ("Invalid input") doesn't say which types exist.
 */
function canonicalIssues(error: z.ZodError, body: unknown): ImportIssue[] {
  const actions = isRecord(body) && Array.isArray(body.actions) ? (body.actions as unknown[]) : [];
  const typeIssues: ImportIssue[] = [];
  actions.forEach((action, index) => {
    const type = actionType(action);
    if (typeof type === "string" && !CANONICAL_TYPES.has(type)) {
      const hint = isSaveActionActionType(type) ? ` (a SaveAction type: send the whole SaveAction export instead)` : "";
      typeIssues.push({
        path: `actions[${index}].type`,
        message: `unknown action type ${JSON.stringify(type)}; expected one of ${ACTION_TYPES.join(", ")}${hint}`,
      });
    } else if (type === undefined) {
      typeIssues.push({ path: `actions[${index}].type`, message: `is required; one of ${ACTION_TYPES.join(", ")}` });
    }
  });
  const typePaths = new Set(typeIssues.map((issue) => issue.path.replace(/\.type$/, "")));
  const others = zodIssues(error, body).filter(
    (issue) => ![...typePaths].some((path) => issue.path === path || issue.path.startsWith(`${path}.`)),
  );
  return [...others, ...typeIssues].sort((a, b) => comparePaths(a.path, b.path)).slice(0, MAX_REPORTED_ISSUES);
}

/** Orders `actions[2]…` before `actions[10]…`: the first issue named is the first in the file. */
function comparePaths(a: string, b: string): number {
  const index = (path: string): number => {
    const match = /^actions\[(\d+)\]/.exec(path);
    return match ? Number(match[1]) : -1;
  };
  return index(a) - index(b) || a.localeCompare(b);
}
