import type { z } from "zod";
import { type ChromeRecorderSource, importChromeRecording, isChromeSingleStep } from "../chrome-recorder/import.ts";
import { isChromeStepType } from "../chrome-recorder/schema.ts";
import { ACTION_TYPES, type Recording, recordingSchema } from "../recording.ts";
import { describeValue, type ImportIssue, MAX_REPORTED_ISSUES, RecordingImportError, zodIssues } from "./errors.ts";
import { type ImportSource, type ImportWarning, importSaveAction, unwrapSaveActionUpload } from "./import.ts";
import { isSaveActionActionType } from "./schema.ts";

export const RECORDING_FORMATS = ["conveyor", "saveaction", "chrome-recorder"] as const;
export type RecordingFormat = (typeof RECORDING_FORMATS)[number];

interface ImportedBase {
  /** Canonical and validated. */
  recording: Recording;
  /** What the import changed or dropped; always empty for canonical input. */
  warnings: ImportWarning[];
  /**
   * For imported formats: for each canonical action, what it came from, as a path into the
   * upload (`steps[3]`, `actions[5]`). Canonical input: `actions[i]` itself.
   */
  actionSources?: string[];
  /**
   * For imported formats: the upload as received, to keep beside the canonical form, but for the
   * values the canonical form does not keep in clear (sensitive inputs), replaced by "[redacted]".
   */
  original?: unknown;
}

/** A recording as imported: `source` says what an imported export held and what was left out. */
export type ImportedRecording = ImportedBase &
  (
    | { format: "conveyor"; source?: undefined }
    | { format: "saveaction"; source: ImportSource }
    | { format: "chrome-recorder"; source: ChromeRecorderSource }
  );

/** Action types only SaveAction uses: one is enough to tell the formats apart. */
const SAVEACTION_ONLY_TYPES = new Set(["navigation", "modal-lifecycle", "checkpoint", "dialog"]);
const CANONICAL_TYPES = new Set<string>(ACTION_TYPES);

const ACCEPTED_SHAPES =
  'Conveyor accepts a Conveyor recording ({ "name", "actions": [{ "type": "click", "selector", … }] }, see ' +
  'docs/recording-format.md), a SaveAction recorder export as downloaded ({ "testName", "url", "actions", … }, ' +
  'optionally wrapped as { "data": … }) or a Chrome DevTools Recorder export (Export → JSON: { "title", ' +
  '"steps": [{ "type": "navigate", "url" }, …] }); see docs/recording-import.md';

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function hasKey(value: unknown, key: string): boolean {
  return isRecord(value) && key in value;
}

function actionType(action: unknown): unknown {
  return isRecord(action) ? action.type : undefined;
}

/**
 * Which format a request body is in. Chrome DevTools Recorder: an object with a `steps` array
 * and no `actions`, with a `title` or steps that all have a `type` (or a single step of a known
 * type on its own). SaveAction: an object (or `{ data: object }`) with an `actions` array and a
 * `testName`, a version string like "1.0.0", or an action only SaveAction writes (a SaveAction
 * type with a legacy `selector` object or a `timestamp`). Conveyor: a `name`, no `testName`, and
 * only canonical action types. Anything else is "unknown".
 */
export function detectFormat(body: unknown): RecordingFormat | "unknown" {
  if (looksLikeChromeRecording(body)) return "chrome-recorder";
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

function looksLikeChromeRecording(body: unknown): boolean {
  if (isChromeSingleStep(body)) return true;
  if (!isRecord(body) || !Array.isArray(body.steps) || "actions" in body) return false;
  if (typeof body.title === "string") return true;
  const steps: unknown[] = body.steps;
  return steps.length > 0 && steps.every((step) => isRecord(step) && typeof step.type === "string");
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
 * The one entry point for recordings users send (POST /api/recordings, POST /api/runs, `pnpm
 * replay`, the dashboard's upload): a canonical recording is validated as it is; a SaveAction or
 * Chrome DevTools Recorder export is converted. Throws {@link RecordingImportError} naming what
 * is wrong, and for a body in no known format, what it looks like and what is accepted.
 */
export function importRecording(body: unknown): ImportedRecording {
  switch (detectFormat(body)) {
    case "chrome-recorder": {
      const { recording, warnings, source, actionSources, original } = importChromeRecording(body);
      return { recording, format: "chrome-recorder", warnings, source, actionSources, original };
    }
    case "saveaction": {
      const { recording, warnings, source, actionSources, original } = importSaveAction(body);
      const located = warnings.map((warning) =>
        warning.index === undefined || warning.path !== undefined
          ? warning
          : { ...warning, path: `actions[${warning.index}]` },
      );
      return { recording, format: "saveaction", warnings: located, source, actionSources, original };
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

/**
 * The actions that run the recording's own JavaScript in the page (waitForExpression), each with
 * where it came from in the upload (`steps[3]`), for the project policy that must allow them.
 */
export function expressionActions(imported: Pick<ImportedRecording, "recording" | "actionSources">): {
  index: number;
  path: string;
}[] {
  const found: { index: number; path: string }[] = [];
  imported.recording.actions.forEach((action, index) => {
    if (action.type === "waitForExpression") {
      found.push({ index, path: imported.actionSources?.[index] ?? `actions[${index}]` });
    }
  });
  return found;
}

function unknownFormatError(body: unknown): RecordingImportError {
  const unknownFormat = (summary: string, issues: ImportIssue[] = []) =>
    new RecordingImportError(`${summary} ${ACCEPTED_SHAPES}`, issues, { unknownFormat: true });
  const recording = unwrapSaveActionUpload(body);
  if (Array.isArray(recording)) {
    const items: unknown[] = recording;
    // A canonical action names its element in `selector`, a Recorder step in `selectors`.
    if (items.length > 0 && items.every((item) => isChromeStepType(actionType(item)) && !hasKey(item, "selector"))) {
      return unknownFormat(
        'This looks like the steps of a Chrome DevTools Recorder export without the recording around them: send the whole export ({ "title": …, "steps": [ … ] }).',
      );
    }
    if (items.length > 0 && items.every((item) => CANONICAL_TYPES.has(String(actionType(item))))) {
      return unknownFormat(
        'This looks like the actions of a Conveyor recording without the recording around them: send { "name": …, "actions": [ … ] }.',
      );
    }
    return unknownFormat("Not a recording: the body is an array, not a JSON object.");
  }
  if (!isRecord(recording)) {
    return unknownFormat(`Not a recording: the body is ${describeValue(recording)}, not a JSON object.`);
  }
  const lookalike = otherFormat(recording);
  if (lookalike !== undefined) return unknownFormat(`This looks like ${lookalike}, which Conveyor does not import.`);
  const actions = recording.actions;
  if (!Array.isArray(actions) && ("steps" in recording || "title" in recording)) {
    // Close to a Chrome DevTools Recorder export: importing it names what is wrong.
    const issues = importIssues(() => importChromeRecording(recording));
    return unknownFormat("This looks like a Chrome DevTools Recorder export, but it is not valid.", issues);
  }
  const saveActionish =
    typeof recording.testName === "string" ||
    (Array.isArray(actions) &&
      actions.some(
        (action) => isSaveActionActionType(actionType(action)) && !CANONICAL_TYPES.has(String(actionType(action))),
      ));
  if (saveActionish) {
    // Close to a SaveAction export: importing it names the first wrong field.
    const issues = importIssues(() => importSaveAction(recording));
    if (issues.length > 0) {
      return new RecordingImportError(
        `This looks like a SaveAction recorder export, but it is not valid. ${ACCEPTED_SHAPES}`,
        issues,
      );
    }
  }
  if (typeof recording.name === "string" || Array.isArray(actions)) {
    const result = recordingSchema.safeParse(recording);
    const issues = result.success ? [] : canonicalIssues(result.error, recording);
    if (issues.length > 0) {
      return new RecordingImportError(
        `This looks like a Conveyor recording, but it is not valid. ${ACCEPTED_SHAPES}`,
        issues,
      );
    }
  }
  if (Array.isArray(actions)) {
    return unknownFormat(
      "Not a recording in a known format: it has an actions list, but no action type identifies the format.",
    );
  }
  const fields = Object.keys(recording).slice(0, 8);
  return unknownFormat(
    fields.length === 0
      ? "Not a recording: the body is an empty object."
      : `Not a recording in a known format: its fields are ${fields.map((f) => JSON.stringify(f)).join(", ")}${Object.keys(recording).length > fields.length ? ", …" : ""}, and a recording has "actions" (or "steps").`,
  );
}

/** The issues an importer finds, or none when it imports. */
function importIssues(run: () => unknown): ImportIssue[] {
  try {
    run();
    return [];
  } catch (error) {
    if (error instanceof RecordingImportError) return error.issues;
    throw error;
  }
}

/** What other tools' files look like, cheaply: the name of the one `body` seems to be. */
function otherFormat(body: Record<string, unknown>): string | undefined {
  const { steps, tests, log, info } = body;
  if (Array.isArray(steps) && steps.some((step) => isRecord(step) && "lhr" in step)) {
    return "a Lighthouse user-flow report (its steps are results, not actions)";
  }
  if ("lhr" in body || "lighthouseVersion" in body) return "a Lighthouse report";
  if (Array.isArray(tests) && tests.some((test) => isRecord(test) && Array.isArray(test.commands))) {
    return "a Selenium IDE project (.side)";
  }
  if (isRecord(log) && Array.isArray(log.entries)) return "an HTTP Archive (HAR) of network requests";
  if (isRecord(info) && typeof info.schema === "string" && info.schema.includes("postman")) {
    return "a Postman collection";
  }
  if (body.type === "context-options" || (typeof body.type === "string" && "callId" in body)) {
    return "an event of a Playwright trace (Conveyor replays recordings, not traces)";
  }
  if (isRecord(body.config) && Array.isArray(body.suites) && isRecord(body.stats)) {
    return "a Playwright test report (JSON reporter)";
  }
  if (isRecord(body.e2e) || isRecord(body.component) || typeof body.integrationFolder === "string") {
    return "a Cypress configuration file";
  }
  if (isRecord(body.stats) && Array.isArray(body.results)) return "a Mochawesome (Cypress) test report";
  return undefined;
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
