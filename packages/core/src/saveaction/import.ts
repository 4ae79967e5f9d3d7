import {
  type Action,
  type ActionOf,
  type AssertCheck,
  MODIFIERS,
  type Modifier,
  type Recording,
  recordingSchema,
  type SelectorCandidate,
} from "../recording.ts";
import { REDACTED } from "../secrets.ts";
import { formatPath, type ImportIssue, MAX_REPORTED_ISSUES, RecordingImportError, zodIssues } from "./errors.ts";
import {
  anyActionSchema,
  isSaveActionActionType,
  SAVEACTION_ACTION_SCHEMAS,
  type SaveActionAction,
  type SaveActionActionOf,
  type SaveActionRecording,
  saveActionRecordingSchema,
} from "./schema.ts";
import { ancestorTags, buildCandidates, type CandidateResult, type CandidateSources, elementKey } from "./selectors.ts";

/**
 * Something the import changed or left out that the user should know about. Every importer
 * (SaveAction, Chrome DevTools Recorder) reports in this shape.
 */
export interface ImportWarning {
  /**
   * Position of the source action or step in the export's list (SaveAction's `actions`, Chrome
   * DevTools Recorder's `steps`); absent for recording-level warnings.
   */
  index?: number;
  /** The source action's `id` (`act_007`; SaveAction only). */
  actionId?: string;
  /** The source action's or step's `type`. */
  type?: string;
  /**
   * Where in the upload, as import issues name it (`actions[3]`, `steps[3]`, `title`);
   * {@link importRecording} sets it on every warning that has an `index`.
   */
  path?: string;
  message: string;
}

/**
 * Why a source action has no canonical action of its own. Only `unknown-type` and `unsupported`
 * lose something the user did, and they are also reported as warnings; the others are events
 * the browser or the recorder produced as a consequence of another action, which replaying that
 * action produces again, or (`merged-input`) part of a value the `input` before it types in full.
 */
export type DropReason =
  /** A navigation caused by the previous click, form submission or a redirect. */
  | "implicit-navigation"
  /**
   * An `input` on the field the `input` right before it typed into (the recorder emits one per
   * pause in typing): folded into the run's first `input`, which types the final value.
   */
  | "merged-input"
  /** A navigation to the start URL as the first action: `startUrl` opens it already. */
  | "start-navigation"
  /** A form `submit` event right after the click or Enter that submitted the form. */
  | "implicit-submit"
  /** A second capture of one physical click (the recorder records mousedown and click). */
  | "duplicate-click"
  /** The `input` event a click on a checkbox or radio button fires. */
  | "toggle-side-effect"
  /** A modal event folded into the one before it (the recorder reports each nested element). */
  | "modal-burst"
  /** A browser dialog; answered by the recording-level `dialogs` setting instead. */
  | "dialog"
  | "unknown-type"
  | "unsupported";

export interface DroppedAction {
  index: number;
  actionId?: string;
  type: string;
  reason: DropReason;
}

export interface ImportSource {
  format: "saveaction";
  /** The export's schema `version` ("1.0.0"). */
  version?: string;
  /** Actions in the export, before any mapping. */
  actionCount: number;
  /** Navigations left to the click, submission or redirect that caused them (plus a first navigation to the start URL). */
  implicitNavigations: number;
  /** `submit` events left to the click or Enter that submitted the form. */
  implicitSubmits: number;
  /** Second captures of one physical click. */
  duplicateClicks: number;
  /** Checkbox and radio `input` events left to the click that toggled them. */
  toggleSideEffects: number;
  /** `input` events folded into the one before them on the same field (one per pause in typing). */
  mergedInputs: number;
  /** Every source action without a canonical action of its own, in order. */
  dropped: DroppedAction[];
}

export interface ImportResult {
  /** The canonical recording, validated by `recordingSchema`. */
  recording: Recording;
  warnings: ImportWarning[];
  source: ImportSource;
  /** For each canonical action, the source action it came from (the first, when several merged): `actions[3]`. */
  actionSources: string[];
  /**
   * The upload as received (wrapper included), but for the values the canonical recording does
   * not keep in clear: those of sensitive inputs and of inputs bound to a variable, {@link REDACTED}.
   */
  original: unknown;
}

/**
 * Two captures of one element closer than this are one physical click: the recorder records
 * both mousedown and click, and its own 200 ms duplicate filter (the same value) only compares
 * with the action emitted last, so a hover or checkbox event in between defeats it.
 */
export const DUPLICATE_CLICK_WINDOW_MS = 200;
/** A `submit` this soon after a click or Enter was caused by it. Observed gaps: 35–130 ms. */
export const IMPLICIT_SUBMIT_WINDOW_MS = 1000;
/** A checkbox `input` this close to a click on the same element is that click's side effect. Observed: 1–4 ms. */
export const TOGGLE_SIDE_EFFECT_WINDOW_MS = 1000;
/**
 * A "back" or "forward" this soon after a click on a link or a submit button (or inside one) is
 * the page change that click caused, which the recorder didn't see start. Observed: 0.4–1.3 s
 * after the click; a real Back after clicking a link that didn't navigate came 2.9 s after it.
 */
export const IMPLICIT_NAVIGATION_WINDOW_MS = 2000;
/**
 * A "back" or "forward" to the very address of the link clicked just before is that link's
 * navigation up to this long after the click: the address says so, and a slow page can take
 * longer than {@link IMPLICIT_NAVIGATION_WINDOW_MS} (3.5 s observed).
 */
export const LINK_TARGET_NAVIGATION_WINDOW_MS = 10_000;
/**
 * Budget for a modal wait. Modal events are the recorder's observations, not something the user
 * did, and are noisy; their waits are optional and short so a false one costs seconds, not a run.
 */
export const MODAL_WAIT_TIMEOUT_MS = 5000;
const MAX_TYPING_DELAY_MS = 1000;
const MAX_HOVER_MS = 60_000;
const MAX_DELAY_BEFORE_MS = 3_600_000;
const MAX_NAME_LENGTH = 256;
const MAX_ID_LENGTH = 128;

const MODIFIER_NAMES: Readonly<Record<string, Modifier>> = {
  ctrl: "Control",
  control: "Control",
  shift: "Shift",
  alt: "Alt",
  option: "Alt",
  meta: "Meta",
  cmd: "Meta",
  command: "Meta",
};

const BUTTONS = ["left", "right", "middle"] as const;
const WAIT_UNTIL = ["load", "domcontentloaded", "networkidle", "commit"] as const;
const TOGGLE_INPUT_TYPES = new Set(["checkbox", "radio"]);
/** Elements whose click follows an address. */
const LINK_TAGS = new Set(["a", "area"]);
/** `<input>` types that submit their form when clicked. */
const SUBMIT_INPUT_TYPES = new Set(["submit", "image"]);
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]{0,63})\}/g;
/** A bare tag name (`div`, `span`) matches every such element on the page: no use as a modal selector. */
const BARE_TAG = /^[A-Za-z][A-Za-z0-9-]*$/;
const HAS_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:/;
/** What a recorder that masks sensitive values leaves in their place. */
const MASKED_VALUE = /^[*•●]+$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * The recording inside an upload: SaveAction's platform wraps exports as `{ "data": { … } }`.
 * Anything else is returned as it is.
 */
export function unwrapSaveActionUpload(body: unknown): unknown {
  if (isRecord(body) && !Array.isArray(body.actions) && isRecord(body.data) && Array.isArray(body.data.actions)) {
    return body.data;
  }
  return body;
}

interface ParsedAction {
  index: number;
  action: SaveActionAction;
  /** Element candidates, for actions that act on an element. */
  candidates?: SelectorCandidate[];
  /** See {@link elementKey}: equal for two captures of one element. */
  element?: string;
}

/**
 * Converts a SaveAction recorder export (or its `{ data: … }` upload wrapper) to a canonical
 * recording. Every source action becomes one canonical action, or is merged into one or dropped
 * for a reason listed in `source.dropped` (docs/recording-import.md explains each). Throws
 * {@link RecordingImportError} with every problem found when the input can't be converted.
 */
export function importSaveAction(input: unknown): ImportResult {
  const body = unwrapSaveActionUpload(input);
  const top = saveActionRecordingSchema.safeParse(body);
  if (!top.success) throw new RecordingImportError("Not a valid SaveAction recording", zodIssues(top.error, body));
  const recording = top.data;
  const warnings: ImportWarning[] = [];
  const { parsed, issues } = parseActions(recording.actions, warnings);
  if (issues.length > 0) {
    throw new RecordingImportError("Not a valid SaveAction recording", issues.slice(0, MAX_REPORTED_ISSUES));
  }
  const converter = new Converter(recording, parsed, warnings);
  const result = converter.convert();
  return { ...result, original: redactValues(input, converter.secretIndexes) };
}

/** A copy of the upload with the `value` of the actions at `indexes` redacted (the upload itself when none). */
function redactValues(input: unknown, indexes: ReadonlySet<number>): unknown {
  if (indexes.size === 0) return input;
  const copy = structuredClone(input);
  const body = unwrapSaveActionUpload(copy);
  const actions = isRecord(body) && Array.isArray(body.actions) ? (body.actions as unknown[]) : [];
  for (const index of indexes) {
    const action = actions[index];
    if (isRecord(action) && "value" in action) action.value = REDACTED;
  }
  return copy;
}

const NO_CANDIDATES: CandidateResult = { candidates: [], unknownStrategies: [] };

type Parsed = { kind: "known"; value: ParsedAction } | { kind: "unknown"; index: number; type: string; id?: string };

function parseActions(
  actions: readonly unknown[],
  warnings: ImportWarning[],
): { parsed: Parsed[]; issues: ImportIssue[] } {
  const parsed: Parsed[] = [];
  const issues: ImportIssue[] = [];
  actions.forEach((raw, index) => {
    const prefix = ["actions", index];
    const base = anyActionSchema.safeParse(raw);
    if (!base.success) {
      issues.push(...zodIssues(base.error, raw, prefix));
      return;
    }
    const type = base.data.type;
    if (!isSaveActionActionType(type)) {
      const id = typeof base.data.id === "string" ? base.data.id : undefined;
      parsed.push({ kind: "unknown", index, type, ...(id === undefined ? {} : { id }) });
      return;
    }
    const result = SAVEACTION_ACTION_SCHEMAS[type].safeParse(raw);
    if (!result.success) {
      issues.push(...zodIssues(result.error, raw, prefix));
      return;
    }
    const action = result.data as SaveActionAction;
    const value: ParsedAction = { index, action };
    const sources = candidateSources(action);
    const { candidates, unknownStrategies } = sources === undefined ? NO_CANDIDATES : buildCandidates(sources);
    if (unknownStrategies.length > 0) {
      warnings.push({
        ...where(index, action),
        message: `selector strategies ${unknownStrategies.map((s) => JSON.stringify(s)).join(", ")} have no Conveyor equivalent; dropped`,
      });
    }
    if (candidates.length === 0 && needsElement(action)) {
      issues.push({
        path: formatPath([...prefix, action.type === "scroll" ? "element" : "selector"]),
        message:
          sources === undefined
            ? `is required: a ${action.type} action needs the element it acts on`
            : "no usable selector: every strategy is empty or unknown",
      });
      return;
    }
    if (sources !== undefined && candidates.length > 0) {
      value.candidates = candidates;
      const key = elementKey(sources);
      if (key !== undefined) value.element = key;
    }
    parsed.push({ kind: "known", value });
  });
  return { parsed, issues };
}

/** Where an action's element candidates come from, or undefined for actions without an element. */
function candidateSources(action: SaveActionAction): CandidateSources | undefined {
  switch (action.type) {
    case "click":
    case "input":
    case "select":
    case "hover":
    case "submit":
    case "checkpoint":
    case "keypress":
      if (!action.selector && !action.selectors?.length) return undefined;
      return {
        selector: action.selector,
        selectors: action.selectors,
        alternativeSelectors: action.alternativeSelectors,
      };
    case "scroll": {
      const element = action.element;
      if (element === null || element === undefined || element === "window") return undefined;
      // A string element is already a CSS selector.
      if (typeof element === "string") return { selector: { css: element, priority: ["css"] } };
      return { selector: element };
    }
    default:
      return undefined;
  }
}

/** Whether the action can't be replayed without its element. */
function needsElement(action: SaveActionAction): boolean {
  switch (action.type) {
    case "click":
    case "input":
    case "select":
    case "hover":
    case "submit":
      return true;
    case "scroll":
      // Without an element (or with "window") the window scrolls.
      return action.element !== null && action.element !== undefined && action.element !== "window";
    case "checkpoint":
      return ["elementVisible", "elementText", "elementHasValue"].includes(action.checkType);
    default:
      return false;
  }
}

function where(
  index: number,
  action: { type: string; id?: string | null | undefined },
): Omit<ImportWarning, "message"> {
  return { index, type: action.type, ...(action.id ? { actionId: action.id } : {}) };
}

/** The last replayed action that was something the user did (not a hover, scroll or wait). */
interface Interaction {
  kind: "click" | "keypress" | "other";
  sourceIndex: number;
  timestamp?: number;
  element?: string;
  button?: string;
  key?: string;
  /** The page it happened on (its `url`). */
  pageUrl?: string;
  /**
   * A click on a link or a form's submit button, or on an element inside one (an `<img>` in a
   * link, a `<span>` in a button): it navigates by itself.
   */
  navigates?: boolean;
  /** The clicked link's address, resolved, when the recorder kept it (an `href-pattern` selector). */
  href?: string;
  /** A `submit` event followed it: the click or Enter submitted a form, which navigates. */
  submitted?: boolean;
}

/**
 * The canonical `input` a run of `input` events on one field folds into. Only the very next
 * source action can join it, so anything in between (even a hover, or a step the import drops)
 * ends the run.
 */
interface InputRun {
  /** Position of the canonical action in `actions`. */
  at: number;
  /** Source index of the run's latest `input`: only the source action right after it can join. */
  lastIndex: number;
  element: string;
  frame: string | undefined;
  sensitive: boolean;
  /** The variable any `input` of the run was bound to (the latest one named). */
  variable: string | undefined;
  /** The masked-value warning was given for this run already. */
  maskedWarned: boolean;
}

class Converter {
  private readonly actions: Action[] = [];
  /** Source index of each canonical action, to point validation errors at the export. */
  private readonly sourceIndexes: number[] = [];
  /** Source actions whose `value` the canonical recording does not keep in clear (see {@link ImportResult.original}). */
  readonly secretIndexes = new Set<number>();
  private readonly dropped: DroppedAction[] = [];
  private readonly usedIds = new Set<string>();
  private readonly variableNames = new Map<string, { sensitive: boolean; description?: string }>();
  private readonly dialogResponses: Array<"accept" | "dismiss"> = [];
  private lastInteraction: Interaction | undefined;
  /** Position in `actions` of the modal wait the current run of modal events folds into. */
  private openModalBurst: number | undefined;
  private inputRun: InputRun | undefined;
  private readonly startUrl: string | undefined;
  /** Source actions by their index in the export. */
  private readonly byIndex = new Map<number, Parsed>();

  private readonly source: SaveActionRecording;
  private readonly parsed: Parsed[];
  private readonly warnings: ImportWarning[];
  constructor(source: SaveActionRecording, parsed: Parsed[], warnings: ImportWarning[]) {
    this.source = source;
    this.parsed = parsed;
    this.warnings = warnings;
    this.startUrl = source.url?.trim() || this.firstActionUrl();
    for (const entry of parsed) this.byIndex.set(entry.kind === "known" ? entry.value.index : entry.index, entry);
  }

  convert(): Omit<ImportResult, "original"> {
    this.declareVariables();
    for (const entry of this.parsed) {
      if (entry.kind === "unknown") {
        this.warnings.push({
          index: entry.index,
          type: entry.type,
          ...(entry.id ? { actionId: entry.id } : {}),
          message: `unknown action type ${JSON.stringify(entry.type)}; dropped`,
        });
        this.drop(entry.index, entry.type, entry.id, "unknown-type");
        this.openModalBurst = undefined;
        continue;
      }
      const { value } = entry;
      if (value.action.type !== "modal-lifecycle") this.openModalBurst = undefined;
      this.convertAction(value);
    }

    const candidate = {
      version: 1 as const,
      name: this.name(),
      ...(this.startUrl === undefined ? {} : { startUrl: this.startUrl }),
      ...this.viewport(),
      ...this.variables(),
      ...this.dialogs(),
      actions: this.actions,
    };
    if (this.actions.length === 0) {
      throw new RecordingImportError("Nothing to replay in this SaveAction recording", [
        {
          path: "actions",
          message: `none of the ${this.source.actions.length} actions is replayable (${this.dropped.map((d) => `${d.type}: ${d.reason}`).join(", ") || "the list is empty"})`,
        },
      ]);
    }
    const result = recordingSchema.safeParse(candidate);
    if (!result.success) {
      // The mapping produced something the canonical model rejects: name the source action.
      const issues = result.error.issues.slice(0, MAX_REPORTED_ISSUES).map((issue) => {
        const [first, second, ...rest] = issue.path;
        if (first === "actions" && typeof second === "number") {
          const sourceIndex = this.sourceIndexes[second] ?? second;
          return {
            path: formatPath(["actions", sourceIndex]),
            message: `converts to an invalid action (${formatPath(rest)}: ${issue.message})`,
          };
        }
        return { path: formatPath(issue.path), message: issue.message };
      });
      throw new RecordingImportError("This SaveAction recording converts to an invalid recording", issues);
    }

    const count = (...reasons: DropReason[]): number => this.dropped.filter((d) => reasons.includes(d.reason)).length;
    const version = this.source.version;
    return {
      recording: result.data,
      warnings: this.warnings,
      source: {
        format: "saveaction",
        ...(version === null || version === undefined ? {} : { version: String(version) }),
        actionCount: this.source.actions.length,
        implicitNavigations: count("implicit-navigation", "start-navigation"),
        implicitSubmits: count("implicit-submit"),
        duplicateClicks: count("duplicate-click"),
        toggleSideEffects: count("toggle-side-effect"),
        mergedInputs: count("merged-input"),
        dropped: this.dropped,
      },
      actionSources: this.sourceIndexes.map((index) => `actions[${index}]`),
    };
  }

  private convertAction(parsed: ParsedAction): void {
    const { action } = parsed;
    switch (action.type) {
      case "click":
        this.click(parsed, action);
        break;
      case "input":
        this.input(parsed, action);
        break;
      case "select":
        this.select(parsed, action);
        break;
      case "navigation":
        this.navigation(parsed, action);
        break;
      case "hover":
        this.hover(parsed, action);
        break;
      case "scroll":
        this.scroll(parsed, action);
        break;
      case "keypress":
        this.keypress(parsed, action);
        break;
      case "submit":
        this.submit(parsed, action);
        break;
      case "modal-lifecycle":
        this.modal(parsed, action);
        break;
      case "checkpoint":
        this.checkpoint(parsed, action);
        break;
      case "dialog":
        this.dialog(parsed, action);
        break;
      default: {
        const unreachable: never = action;
        throw new Error(`unhandled SaveAction type ${JSON.stringify(unreachable)}`);
      }
    }
  }

  private hover(parsed: ParsedAction, action: SaveActionActionOf<"hover">): void {
    const { duration } = action;
    this.keep(parsed, {
      type: "hover",
      selector: this.selector(parsed),
      ...(typeof duration === "number" && duration >= 0
        ? { durationMs: Math.min(MAX_HOVER_MS, Math.round(duration)) }
        : {}),
    });
  }

  private scroll(parsed: ParsedAction, action: SaveActionActionOf<"scroll">): void {
    this.keep(parsed, {
      type: "scroll",
      ...(parsed.candidates ? { selector: parsed.candidates } : {}),
      // The canonical model scrolls to a position; negative offsets (overscroll) mean the edge.
      x: Math.max(0, action.scrollX ?? 0),
      y: Math.max(0, action.scrollY ?? 0),
    });
  }

  private click(parsed: ParsedAction, action: SaveActionActionOf<"click">): void {
    const button = action.button ?? "left";
    const last = this.lastInteraction;
    if (
      last?.kind === "click" &&
      parsed.element !== undefined &&
      last.element === parsed.element &&
      last.button === button &&
      typeof action.timestamp === "number" &&
      last.timestamp !== undefined &&
      action.timestamp - last.timestamp >= 0 &&
      action.timestamp - last.timestamp < DUPLICATE_CLICK_WINDOW_MS
    ) {
      this.drop(parsed.index, action.type, action.id, "duplicate-click");
      return;
    }

    const click: ActionOf<"click"> = { type: "click", selector: this.selector(parsed) };
    if (action.button !== null && action.button !== undefined) {
      if ((BUTTONS as readonly string[]).includes(action.button))
        click.button = action.button as (typeof BUTTONS)[number];
      else this.warn(parsed, `unknown mouse button ${JSON.stringify(action.button)}; clicking with the left button`);
    }
    if (typeof action.clickCount === "number" && Number.isFinite(action.clickCount)) {
      click.clickCount = Math.min(3, Math.max(1, Math.round(action.clickCount)));
    }
    const modifiers = this.modifiers(parsed, action.modifiers);
    if (modifiers.length > 0) click.modifiers = modifiers;
    const { coordinates } = action;
    // Only element-relative points mean the same thing on replay; a point left or above the
    // element (the recorder reports some) would click something else, so the centre is used.
    if (action.coordinatesRelativeTo === "element" && coordinates && coordinates.x >= 0 && coordinates.y >= 0) {
      click.position = { x: coordinates.x, y: coordinates.y };
    }
    this.keep(parsed, click);
    const pageUrl = action.url?.trim() || undefined;
    const href = this.selector(parsed).find((c) => c.strategy === "href")?.value;
    this.lastInteraction = {
      kind: "click",
      sourceIndex: parsed.index,
      button,
      navigates: navigatesByItself(action, href !== undefined),
      ...(href === undefined ? {} : { href: resolveUrl(href, pageUrl) }),
      ...(pageUrl === undefined ? {} : { pageUrl }),
      ...(typeof action.timestamp === "number" ? { timestamp: action.timestamp } : {}),
      ...(parsed.element === undefined ? {} : { element: parsed.element }),
    };
  }

  private input(parsed: ParsedAction, action: SaveActionActionOf<"input">): void {
    const inputType = action.inputType?.toLowerCase();
    if (inputType !== undefined && TOGGLE_INPUT_TYPES.has(inputType)) {
      this.toggleInput(parsed, action, inputType);
      return;
    }
    if (inputType === "file") {
      this.warn(parsed, "file uploads can't be replayed yet; dropped");
      this.drop(parsed.index, action.type, action.id, "unsupported");
      return;
    }

    const named = action.variableName ? this.variableName(parsed, action.variableName) : undefined;
    const frame = action.frameSelector || undefined;
    const previous = this.inputRun;
    const run =
      previous !== undefined &&
      previous.lastIndex === parsed.index - 1 &&
      previous.element === parsed.element &&
      previous.frame === frame
        ? previous
        : undefined;
    // A field bound to a variable stays bound: no partial or final literal survives.
    const variable = named ?? run?.variable;
    const sensitive = action.isSensitive === true || (run?.sensitive ?? false);
    if (sensitive || variable !== undefined) this.secretIndexes.add(parsed.index);
    if (variable !== undefined) {
      const known = this.variableNames.get(variable);
      this.variableNames.set(variable, { ...known, sensitive: (known?.sensitive ?? false) || sensitive });
    }
    // The recorded literal (often a password) must not survive the import: the run supplies it.
    const value = variable === undefined ? action.value : `\${${variable}}`;
    const masked = variable === undefined && sensitive && MASKED_VALUE.test(value);
    if (masked && !(run?.maskedWarned ?? false)) {
      this.warn(parsed, "the recorder masked this value; bind the field to a variable and pass the value when running");
    }
    this.noteUsedPlaceholders(value);

    const typed = action.simulationType === "type";
    const fields = {
      value,
      ...(sensitive ? { sensitive: true } : {}),
      mode: typed ? ("type" as const) : ("fill" as const),
      ...(typed && typeof action.typingDelay === "number" && Number.isFinite(action.typingDelay)
        ? { typingDelayMs: Math.min(MAX_TYPING_DELAY_MS, Math.max(0, Math.round(action.typingDelay))) }
        : {}),
    };
    const merged = run === undefined ? undefined : this.actions[run.at];
    if (run !== undefined && merged?.type === "input") {
      // The recorder emits one `input` per pause in typing, each with the whole value so far;
      // replayed one by one, each would clear the field and type it again. The run's first
      // action keeps its place, id and selector and takes the final value.
      const { value: _value, sensitive: _sensitive, mode: _mode, typingDelayMs: _delay, ...kept } = merged;
      this.actions[run.at] = { ...kept, ...fields };
      this.drop(parsed.index, action.type, action.id, "merged-input");
    } else {
      this.keep(parsed, { type: "input", selector: this.selector(parsed), ...fields });
    }
    this.inputRun =
      parsed.element === undefined
        ? undefined
        : {
            at: run?.at ?? this.actions.length - 1,
            lastIndex: parsed.index,
            element: parsed.element,
            frame,
            sensitive,
            variable,
            maskedWarned: masked || (run?.maskedWarned ?? false),
          };
    this.interacted(parsed, action.timestamp);
  }

  /**
   * A checkbox or radio `input`. Its `value` is the element's value attribute ("on" unless the
   * page sets one), not whether it is checked, so it says nothing about the state. Next to a
   * click on the same element it is that click's side effect: the click is replayed and toggles
   * again, and a `check` here would re-check a box the user had just unchecked. Alone (a
   * keyboard toggle), it becomes `check`, trusting a recorded `checked` or a truthy value.
   */
  private toggleInput(parsed: ParsedAction, action: SaveActionActionOf<"input">, inputType: string): void {
    if (this.hasClickOnSameElementNearby(parsed)) {
      this.drop(parsed.index, action.type, action.id, "toggle-side-effect");
      return;
    }
    const checked =
      inputType === "radio" ||
      (typeof action.checked === "boolean"
        ? action.checked
        : ["true", "on", "1", "checked", "yes"].includes(action.value.trim().toLowerCase()));
    this.keep(parsed, { type: "check", selector: this.selector(parsed), checked });
    this.interacted(parsed, action.timestamp);
  }

  private hasClickOnSameElementNearby(parsed: ParsedAction): boolean {
    if (parsed.element === undefined) return false;
    const timestamp = parsed.action.timestamp;
    const isNearbyClick = (other: Parsed | undefined, adjacent: boolean): boolean | undefined => {
      if (other === undefined || other.kind !== "known") return undefined;
      const { action } = other.value;
      // A page change in between: whatever is beyond it happened to another document.
      if (action.type === "navigation") return undefined;
      if (action.type !== "click" || other.value.element !== parsed.element) return false;
      if (typeof timestamp === "number" && typeof action.timestamp === "number") {
        return Math.abs(timestamp - action.timestamp) <= TOGGLE_SIDE_EFFECT_WINDOW_MS;
      }
      return adjacent;
    };
    for (const step of [-1, 1]) {
      for (let i = parsed.index + step, distance = 1; this.byIndex.has(i); i += step, distance++) {
        const other = this.byIndex.get(i);
        const found = isNearbyClick(other, distance === 1);
        if (found === undefined) break;
        if (found) return true;
        const otherTime = other?.kind === "known" ? other.value.action.timestamp : undefined;
        // Past the window in time, or (without timestamps) past the neighbours: stop looking.
        if (typeof timestamp !== "number" || typeof otherTime !== "number") break;
        if (Math.abs(timestamp - otherTime) > TOGGLE_SIDE_EFFECT_WINDOW_MS) break;
      }
    }
    return false;
  }

  private select(parsed: ParsedAction, action: SaveActionActionOf<"select">): void {
    const index =
      typeof action.selectedIndex === "number" && Number.isInteger(action.selectedIndex) && action.selectedIndex >= 0
        ? action.selectedIndex
        : undefined;
    const value = action.selectedValue ?? undefined;
    const label = action.selectedText ?? undefined;
    if (value === undefined && label === undefined && index === undefined) {
      this.warn(parsed, "no selectedValue, selectedText or selectedIndex; dropped");
      this.drop(parsed.index, action.type, action.id, "unsupported");
      return;
    }
    this.noteUsedPlaceholders(value ?? "");
    this.keep(parsed, {
      type: "select",
      selector: this.selector(parsed),
      ...(value === undefined ? {} : { value }),
      ...(label === undefined ? {} : { label }),
      ...(index === undefined ? {} : { index }),
    });
    this.interacted(parsed, action.timestamp);
  }

  /**
   * Navigations the user caused directly (typed URL, back, forward) are replayed; those caused
   * by the previous action (a link click, a form submission, a redirect) are not, or the page
   * would be loaded twice and a POST re-sent as a GET. A first navigation to the start URL is
   * left to `startUrl`.
   */
  private navigation(parsed: ParsedAction, action: SaveActionActionOf<"navigation">): void {
    const trigger = action.navigationTrigger ?? "manual";
    const nothingReplayedYet = this.actions.length === 0;
    const url = resolveUrl(action.to, action.from ?? action.url ?? undefined);
    const last = this.lastInteraction;
    this.lastInteraction = undefined;

    if (nothingReplayedYet && this.startUrl !== undefined && sameUrl(url, this.startUrl)) {
      this.drop(parsed.index, action.type, action.id, "start-navigation");
      return;
    }
    const caused = trigger === "click" || trigger === "form-submit" || trigger === "redirect";
    if (caused && !nothingReplayedYet) {
      this.drop(parsed.index, action.type, action.id, "implicit-navigation");
      return;
    }
    // The recorder labels a page change it didn't see start as "back": a link or submit button
    // clicked just before is the real cause, and navigates again by itself on replay.
    if ((trigger === "back" || trigger === "forward") && last !== undefined && causedBy(last, action, url)) {
      this.drop(parsed.index, action.type, action.id, "implicit-navigation");
      return;
    }
    if (!caused && !["manual", "back", "forward"].includes(trigger)) {
      this.warn(parsed, `unknown navigationTrigger ${JSON.stringify(trigger)}; replayed as a navigation to its URL`);
    }
    const waitUntil = (WAIT_UNTIL as readonly string[]).includes(action.waitUntil ?? "")
      ? (action.waitUntil as (typeof WAIT_UNTIL)[number])
      : undefined;
    this.keep(parsed, { type: "navigate", url, ...(waitUntil === undefined ? {} : { waitUntil }) });
  }

  private keypress(parsed: ParsedAction, action: SaveActionActionOf<"keypress">): void {
    const modifiers = this.modifiers(parsed, action.modifiers);
    this.keep(parsed, {
      type: "keypress",
      key: action.key,
      ...(modifiers.length > 0 ? { modifiers } : {}),
      ...(parsed.candidates ? { selector: parsed.candidates } : {}),
    });
    this.lastInteraction = {
      kind: "keypress",
      sourceIndex: parsed.index,
      key: action.key,
      ...(typeof action.timestamp === "number" ? { timestamp: action.timestamp } : {}),
    };
  }

  /**
   * The browser fires `submit` only because of a click on a submit button or Enter in a field.
   * When that click or Enter is replayed just before, it submits the form again by itself;
   * a second submission would send the form twice or fail on the next page.
   */
  private submit(parsed: ParsedAction, action: SaveActionActionOf<"submit">): void {
    const last = this.lastInteraction;
    const submitting =
      last?.kind === "click" || (last?.kind === "keypress" && ["Enter", "NumpadEnter", " "].includes(last.key ?? ""));
    const soon =
      typeof action.timestamp !== "number" ||
      last?.timestamp === undefined ||
      (action.timestamp - last.timestamp >= 0 && action.timestamp - last.timestamp <= IMPLICIT_SUBMIT_WINDOW_MS);
    if (last !== undefined && submitting && soon) {
      this.drop(parsed.index, action.type, action.id, "implicit-submit");
      this.lastInteraction = { ...last, submitted: true };
      return;
    }
    this.keep(parsed, { type: "submit", selector: this.selector(parsed) });
    this.interacted(parsed, action.timestamp);
  }

  /**
   * The recorder reports a modal once per nested element that looks like one (seven "opened"
   * events within 2 ms for one SweetAlert), and "closed" events in the same millisecond while
   * the dialog stays open. A run of consecutive modal events becomes one wait: for an open
   * modal when any of them opened one, else for it to close.
   */
  private modal(parsed: ParsedAction, action: SaveActionActionOf<"modal-lifecycle">): void {
    const state = action.event === "modal-opened" ? "open" : action.event === "modal-closed" ? "closed" : undefined;
    if (state === undefined) {
      this.warn(parsed, `modal event ${JSON.stringify(action.event)} has no Conveyor equivalent; dropped`);
      this.drop(parsed.index, action.type, action.id, "unsupported");
      return;
    }
    const selector = action.modalSelector?.trim();
    const specific = selector && !BARE_TAG.test(selector) ? selector : undefined;
    const burstAt = this.openModalBurst;
    const burst = burstAt === undefined ? undefined : this.actions[burstAt];
    if (burstAt !== undefined && burst?.type === "modal") {
      // An "open" anywhere in the run wins: the "closed" events around it are false alarms.
      const nextState = burst.state === "open" || state === "open" ? "open" : "closed";
      const nextSelector = nextState === state && burst.selector === undefined ? specific : burst.selector;
      const { selector: _previous, ...rest } = burst;
      this.actions[burstAt] = {
        ...rest,
        state: nextState,
        ...(nextSelector === undefined ? {} : { selector: nextSelector }),
      };
      this.drop(parsed.index, action.type, action.id, "modal-burst");
      return;
    }
    this.keep(parsed, {
      type: "modal",
      state,
      ...(specific === undefined ? {} : { selector: specific }),
      optional: true,
      timeoutMs: MODAL_WAIT_TIMEOUT_MS,
    });
    this.openModalBurst = this.actions.length - 1;
  }

  private checkpoint(parsed: ParsedAction, action: SaveActionActionOf<"checkpoint">): void {
    const expectedUrl = action.expectedUrl ?? undefined;
    const expectedValue = action.expectedValue ?? undefined;
    let check: AssertCheck;
    let expected: string | undefined;
    switch (action.checkType) {
      case "urlMatch":
      case "urlContains":
        expected = expectedUrl ?? expectedValue;
        // A path fragment ("/login/") can only ever be contained in a URL, never equal one.
        check =
          action.checkType === "urlMatch" && expected !== undefined && HAS_SCHEME.test(expected)
            ? "urlMatch"
            : "urlContains";
        break;
      case "elementVisible":
      case "elementText":
      case "containsText":
      case "elementHasValue":
      case "pageTitle":
      case "pageLoad":
        check = action.checkType;
        expected = check === "pageLoad" || check === "elementVisible" ? undefined : expectedValue;
        break;
      default:
        this.warn(parsed, `checkpoint type ${JSON.stringify(action.checkType)} has no Conveyor equivalent; dropped`);
        this.drop(parsed.index, action.type, action.id, "unsupported");
        return;
    }
    if (expected === undefined && check !== "elementVisible" && check !== "pageLoad") {
      this.warn(parsed, `checkpoint ${JSON.stringify(action.checkType)} has no expected value; dropped`);
      this.drop(parsed.index, action.type, action.id, "unsupported");
      return;
    }
    if (action.passed === false) {
      this.warn(parsed, "this checkpoint failed while recording; imported as it is, so the run will check it again");
    }
    this.keep(parsed, {
      type: "assert",
      check,
      ...(parsed.candidates ? { selector: parsed.candidates } : {}),
      ...(expected === undefined ? {} : { expected }),
    });
  }

  private dialog(parsed: ParsedAction, action: SaveActionActionOf<"dialog">): void {
    if (action.response === "accept" || action.response === "dismiss") this.dialogResponses.push(action.response);
    if (action.dialogType === "prompt" && action.promptValue) {
      this.warn(parsed, "prompt answers can't be replayed; the run answers prompts with their default value");
    }
    this.drop(parsed.index, action.type, action.id, "dialog");
  }

  private keep(parsed: ParsedAction, mapped: Action): void {
    const { action, index } = parsed;
    const id = this.actionId(parsed);
    if (id !== undefined) mapped.id = id;
    if (action.frameSelector) mapped.frame = action.frameSelector;
    else if (action.frameId !== null && action.frameId !== undefined && action.frameId !== "" && action.frameId !== 0) {
      this.warn(parsed, "happened in an iframe but the export has no frameSelector; replayed in the top page");
    }
    const delay = this.delayBefore(index);
    if (delay !== undefined) mapped.delayBeforeMs = delay;
    this.actions.push(mapped);
    this.sourceIndexes.push(index);
  }

  private drop(index: number, type: string, id: string | null | undefined, reason: DropReason): void {
    this.dropped.push({ index, type, reason, ...(id ? { actionId: id } : {}) });
  }

  private warn(parsed: ParsedAction, message: string): void {
    this.warnings.push({ ...where(parsed.index, parsed.action), message });
  }

  private interacted(parsed: ParsedAction, timestamp: number | null | undefined): void {
    this.lastInteraction = {
      kind: "other",
      sourceIndex: parsed.index,
      ...(typeof timestamp === "number" ? { timestamp } : {}),
    };
  }

  /** Candidates are checked in parseActions for every action that needs them. */
  private selector(parsed: ParsedAction): SelectorCandidate[] {
    if (parsed.candidates === undefined) throw new Error(`action ${parsed.index} has no selector candidates`);
    return parsed.candidates;
  }

  /** The source id, made unique: results are keyed by it. */
  private actionId(parsed: ParsedAction): string | undefined {
    const original = parsed.action.id?.trim().slice(0, MAX_ID_LENGTH);
    if (!original) return undefined;
    let id = original;
    for (let n = 2; this.usedIds.has(id); n++) id = `${original.slice(0, MAX_ID_LENGTH - 8)}-${n}`;
    if (id !== original)
      this.warn(parsed, `duplicate action id ${JSON.stringify(original)}; renamed ${JSON.stringify(id)}`);
    this.usedIds.add(id);
    return id;
  }

  /**
   * What the user waited before this action: from the end of the previous recorded action
   * (whether replayed or not) to this one's start. Timestamps may be relative or epoch
   * milliseconds; only differences are used. The recorder estimates `completedAt`, sometimes
   * past the next action's start, hence the clamp.
   */
  private delayBefore(index: number): number | undefined {
    if (index === 0) return undefined;
    const current = this.timestampAt(index);
    const previous = this.byIndex.get(index - 1);
    if (current === undefined || previous === undefined || previous.kind !== "known") return undefined;
    const { completedAt, timestamp } = previous.value.action;
    const end = typeof completedAt === "number" ? completedAt : timestamp;
    if (typeof end !== "number") return undefined;
    return Math.min(MAX_DELAY_BEFORE_MS, Math.max(0, Math.round(current - end)));
  }

  private timestampAt(index: number): number | undefined {
    const entry = this.byIndex.get(index);
    const timestamp = entry?.kind === "known" ? entry.value.action.timestamp : undefined;
    return typeof timestamp === "number" ? timestamp : undefined;
  }

  private modifiers(parsed: ParsedAction, modifiers: readonly string[] | null | undefined): Modifier[] {
    const out: Modifier[] = [];
    for (const name of modifiers ?? []) {
      const mapped =
        MODIFIER_NAMES[name.toLowerCase()] ?? (MODIFIERS as readonly string[]).find((m) => m === name) ?? undefined;
      if (mapped === undefined) {
        this.warn(parsed, `unknown modifier key ${JSON.stringify(name)}; ignored`);
        continue;
      }
      if (!out.includes(mapped as Modifier)) out.push(mapped as Modifier);
    }
    return out;
  }

  /** A variable name the canonical model accepts: letters, digits and _, not starting with a digit. */
  private variableName(parsed: ParsedAction | undefined, name: string): string {
    if (VARIABLE_NAME.test(name)) return name;
    let fixed = name.replace(/[^A-Za-z0-9_]/g, "_").slice(0, 64);
    if (!/^[A-Za-z_]/.test(fixed)) fixed = `_${fixed}`.slice(0, 64);
    const message = `variable name ${JSON.stringify(name)} is not letters, digits and _; renamed ${fixed}`;
    if (parsed) this.warn(parsed, message);
    else this.warnings.push({ message });
    return fixed;
  }

  private declareVariables(): void {
    for (const variable of this.source.variables ?? []) {
      const name = this.variableName(undefined, variable.name);
      const sensitive = variable.fieldType?.toLowerCase() === "password";
      const known = this.variableNames.get(name);
      const description = variable.description?.slice(0, 1024) || known?.description;
      this.variableNames.set(name, {
        sensitive: (known?.sensitive ?? false) || sensitive,
        ...(description ? { description } : {}),
      });
    }
  }

  /** `${NAME}` already in a value (some recorder versions write the placeholder themselves). */
  private noteUsedPlaceholders(value: string): void {
    for (const match of value.matchAll(PLACEHOLDER)) {
      const name = match[1];
      if (name !== undefined && !this.variableNames.has(name)) this.variableNames.set(name, { sensitive: false });
    }
  }

  private variables(): Pick<Recording, "variables"> {
    if (this.variableNames.size === 0) return {};
    return {
      variables: [...this.variableNames].map(([name, { sensitive, description }]) => ({
        name,
        ...(sensitive ? { sensitive: true } : {}),
        ...(description ? { description } : {}),
      })),
    };
  }

  private dialogs(): Pick<Recording, "dialogs"> {
    const [first, ...rest] = this.dialogResponses;
    if (first === undefined) return {};
    if (rest.some((response) => response !== first)) {
      this.warnings.push({
        message: `the recording both accepts and dismisses browser dialogs; Conveyor answers all of them one way, so all are answered "${first}" (the first answer)`,
      });
    }
    return { dialogs: first };
  }

  private name(): string {
    const name = this.source.testName?.trim();
    if (name) return name.slice(0, MAX_NAME_LENGTH);
    const fallback = this.source.id?.trim() || "Imported SaveAction recording";
    this.warnings.push({ message: `the export has no testName; named ${JSON.stringify(fallback)}` });
    return fallback.slice(0, MAX_NAME_LENGTH);
  }

  private viewport(): Pick<Recording, "viewport"> {
    const viewport = this.source.viewport;
    if (!viewport) return {};
    const width = Math.round(viewport.width);
    const height = Math.round(viewport.height);
    if (width < 100 || width > 7680 || height < 100 || height > 4320) {
      this.warnings.push({
        message: `viewport ${width}×${height} is outside 100×100–7680×4320; the run's default is used`,
      });
      return {};
    }
    return { viewport: { width, height } };
  }

  private firstActionUrl(): string | undefined {
    for (const entry of this.parsed) {
      if (entry.kind !== "known") continue;
      const url = entry.value.action.url?.trim();
      if (url) return url;
    }
    return undefined;
  }
}

/**
 * Whether a click lands on a link or a form's submit button, or on something inside one (an
 * `<img>` in a link, a `<span>` in a button), read from its tag and the ancestors its selectors
 * show. A `<button>` counts inside a form: there it submits unless its `type` says otherwise,
 * which the export doesn't record.
 */
function navigatesByItself(action: SaveActionActionOf<"click">, hasHref: boolean): boolean {
  const tag = action.tagName?.trim().toLowerCase() ?? "";
  const sources = candidateSources(action);
  const ancestors = sources === undefined ? new Set<string>() : ancestorTags(sources);
  if (hasHref || LINK_TAGS.has(tag) || [...LINK_TAGS].some((link) => ancestors.has(link))) return true;
  if (tag === "input" && SUBMIT_INPUT_TYPES.has(action.inputType?.trim().toLowerCase() ?? "")) return true;
  return (tag === "button" || ancestors.has("button")) && ancestors.has("form");
}

/**
 * Whether a "back" or "forward" navigation to `url` is the page change the interaction just
 * before caused (nothing but hovers, scrolls, modal events and its own `submit` in between: the
 * caller tracks that). It must be a click on a link or submit button, or a submitting click or
 * Enter; the navigation must leave the page it happened on; and it must come within
 * {@link IMPLICIT_NAVIGATION_WINDOW_MS}, or {@link LINK_TARGET_NAVIGATION_WINDOW_MS} when it
 * goes to the clicked link's own address. Without timestamps, adjacency is all there is to go on.
 */
function causedBy(last: Interaction, action: SaveActionActionOf<"navigation">, url: string): boolean {
  if (!(last.kind === "click" && last.navigates === true) && last.submitted !== true) return false;
  const from = action.from?.trim();
  if (from && last.pageUrl !== undefined && !sameDocument(from, last.pageUrl)) return false;
  if (typeof action.timestamp !== "number" || last.timestamp === undefined) return true;
  const elapsed = action.timestamp - last.timestamp;
  const limit =
    last.href !== undefined && sameDocument(last.href, url)
      ? LINK_TARGET_NAVIGATION_WINDOW_MS
      : IMPLICIT_NAVIGATION_WINDOW_MS;
  return elapsed >= 0 && elapsed <= limit;
}

function resolveUrl(url: string, base: string | undefined): string {
  if (HAS_SCHEME.test(url) || base === undefined) return url;
  try {
    return new URL(url, base).href;
  } catch {
    return url;
  }
}

/** Equal but for the fragment, which changes no page. */
function sameDocument(a: string, b: string): boolean {
  try {
    const [first, second] = [new URL(a), new URL(b)];
    first.hash = "";
    second.hash = "";
    return first.href === second.href;
  } catch {
    return a.split("#")[0] === b.split("#")[0];
  }
}

function sameUrl(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return false;
  }
}
