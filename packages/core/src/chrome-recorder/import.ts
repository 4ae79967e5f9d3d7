import {
  type Action,
  type ActionOf,
  MODIFIERS,
  type Modifier,
  type Recording,
  recordingSchema,
  type SelectorCandidate,
} from "../recording.ts";
import {
  formatPath,
  type ImportIssue,
  MAX_REPORTED_ISSUES,
  RecordingImportError,
  zodIssues,
} from "../saveaction/errors.ts";
import type { ImportWarning } from "../saveaction/import.ts";
import { REDACTED } from "../secrets.ts";
import {
  anyStepSchema,
  CHROME_STEP_SCHEMAS,
  type ChromeRecording,
  type ChromeSelectors,
  type ChromeStep,
  type ChromeStepOf,
  chromeRecordingSchema,
  isChromeStepType,
  LIGHTHOUSE_STEP_TYPES,
} from "./schema.ts";
import { chromeCandidates, looksSecret, toggleKind } from "./selectors.ts";

/**
 * Why a step has no canonical action of its own. `unknown-type` and `unsupported` lose something
 * the recording did and are also reported as warnings; the others are carried by another action
 * or by the recording itself.
 */
export type StepDropReason =
  /** The first setViewport, before anything else: the recording's `viewport`. */
  | "viewport"
  /** A modifier keyDown held while other keys were pressed or clicks made: they carry it as `modifiers`. */
  | "modifier"
  /** A keyUp: the keypress made of its keyDown presses and releases the key. */
  | "key-release"
  /** A step type outside the schema (Lighthouse user-flow steps among them). */
  | "unknown-type"
  /**
   * A step the schema has but Conveyor can't replay: a click with the back or forward mouse
   * button, a key released that was never pressed, a navigation to the browser's own page.
   */
  | "unsupported";

export interface DroppedStep {
  index: number;
  type: string;
  reason: StepDropReason;
}

export interface ChromeRecorderSource {
  format: "chrome-recorder";
  /** The export's `title`. */
  title?: string;
  /** Steps in the export, before any mapping. */
  stepCount: number;
  /** How many steps of each `type` the export held. */
  stepTypes: Record<string, number>;
  /** Every step without a canonical action of its own, in order. */
  dropped: DroppedStep[];
}

export interface ChromeImportResult {
  /** The canonical recording, validated by `recordingSchema`. */
  recording: Recording;
  warnings: ImportWarning[];
  source: ChromeRecorderSource;
  /** For each canonical action, the step it came from, as a path into the upload (`steps[3]`). */
  actionSources: string[];
  /** The upload as received, but for values typed into secret fields: {@link REDACTED}. */
  original: unknown;
}

/** What an `input` on a checkbox means "checked" (the runner reads an input's value the same way). */
const CHECKED_VALUES = new Set(["true", "on", "1", "yes", "checked"]);
/** The Recorder's mouse buttons (puppeteer/replay `mouseButtonMap`) and the canonical ones. */
const BUTTONS: Readonly<Record<string, "left" | "middle" | "right" | undefined>> = {
  primary: "left",
  auxiliary: "middle",
  secondary: "right",
  back: undefined,
  forward: undefined,
};
const DEVICE_TYPES = new Set(["mouse", "pen", "touch"]);
/** Key names (Puppeteer's, as the Recorder writes them) of the modifier keys. */
const MODIFIER_KEYS: Readonly<Record<string, Modifier>> = {
  Shift: "Shift",
  ShiftLeft: "Shift",
  ShiftRight: "Shift",
  Control: "Control",
  ControlLeft: "Control",
  ControlRight: "Control",
  Alt: "Alt",
  AltLeft: "Alt",
  AltRight: "Alt",
  Meta: "Meta",
  MetaLeft: "Meta",
  MetaRight: "Meta",
};
/** Puppeteer key names Playwright spells otherwise. */
const KEY_NAMES: Readonly<Record<string, string>> = { "\r": "Enter", "\n": "Enter", " ": "Space" };
const MAX_TIMEOUT_MS = 600_000;
const MAX_HOLD_MS = 60_000;
const MAX_LATENCY_MS = 600_000;
const MAX_NAME_LENGTH = 256;
const MAX_DESCRIPTION_LENGTH = 1024;
const VIEWPORT = { minWidth: 100, maxWidth: 7680, minHeight: 100, maxHeight: 4320 };
const FALLBACK_NAME = "Chrome DevTools Recorder recording";
/** The browser's own pages (`chrome://new-tab-page/`, where a recording started in a new tab). */
const BROWSER_PAGE = /^(?:chrome|chrome-untrusted|chrome-search|edge|brave|devtools):/i;

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * A single step exported on its own (DevTools copies one step as JSON): a known step `type`, and
 * neither `steps`, `actions` nor a canonical `selector`.
 */
export function isChromeSingleStep(body: unknown): body is Record<string, unknown> {
  return (
    isRecord(body) && isChromeStepType(body.type) && !("steps" in body) && !("actions" in body) && !("selector" in body)
  );
}

/**
 * Converts a Chrome DevTools Recorder export (or one step of one) to a canonical recording. Each
 * step becomes canonical actions (a navigation it asserts adds a URL and a title check after it),
 * or is carried by another action or the recording, or is skipped with a warning; `source.dropped`
 * lists every step without an action of its own (docs/recording-import.md explains each). Throws
 * {@link RecordingImportError} with every problem found when the input can't be converted, a
 * customStep among them.
 */
export function importChromeRecording(input: unknown): ChromeImportResult {
  const single = isChromeSingleStep(input);
  const body = single ? { steps: [input] } : input;
  const top = chromeRecordingSchema.safeParse(body);
  if (!top.success) {
    throw new RecordingImportError("Not a valid Chrome DevTools Recorder export", zodIssues(top.error, body));
  }
  return new ChromeConverter(top.data, input, single).convert();
}

interface HeldModifier {
  key: string;
  modifier: Modifier;
  /** Position of its keyDown in `steps`. */
  index: number;
  /** Its keyDown's timeout, target and frame. */
  common: Common;
  /** A key was pressed or a click made while it was held. */
  used: boolean;
}

/** The fields every action of a step gets. */
interface Common {
  timeoutMs?: number;
  target?: string;
  frame?: number[];
  description?: string;
}

class ChromeConverter {
  private readonly actions: Action[] = [];
  /** The step each canonical action came from, as a path into the upload. */
  private readonly sources: string[] = [];
  private readonly warnings: ImportWarning[] = [];
  private readonly issues: ImportIssue[] = [];
  private readonly dropped: DroppedStep[] = [];
  /** Steps whose `value` is a secret, kept out of the stored original. */
  private readonly secretSteps = new Set<number>();
  private readonly stepTypes: Record<string, number> = {};
  /** Modifier keys down, in the order they went down. */
  private held: HeldModifier[] = [];
  /** Other keys down (a keyDown without its keyUp yet), by key: how many times. */
  private readonly pressed = new Map<string, number>();
  private viewport: { width: number; height: number } | undefined;
  private defaultTimeoutMs: number | undefined;

  private readonly source: ChromeRecording;
  private readonly input: unknown;
  private readonly single: boolean;
  constructor(source: ChromeRecording, input: unknown, single: boolean) {
    this.source = source;
    this.input = input;
    this.single = single;
  }

  convert(): ChromeImportResult {
    if (this.source.timeout !== undefined) {
      this.defaultTimeoutMs = this.timeoutMs(undefined, ["timeout"], this.source.timeout);
    }
    this.source.steps.forEach((raw, index) => {
      this.step(raw, index);
    });
    this.releaseHeldAtEnd();
    if (this.issues.length > 0) {
      throw new RecordingImportError(
        "This Chrome DevTools Recorder export can't be imported",
        this.issues.slice(0, MAX_REPORTED_ISSUES),
      );
    }
    if (this.actions.length === 0) {
      const count = this.source.steps.length;
      throw new RecordingImportError("Nothing to replay in this Chrome DevTools Recorder export", [
        {
          path: "steps",
          message:
            count === 0
              ? "the list is empty"
              : `none of the ${count} steps is replayable (${this.dropped.map((d) => `${d.type}: ${d.reason}`).join(", ")})`,
        },
      ]);
    }
    const candidate = {
      version: 1 as const,
      name: this.name(),
      ...(this.viewport === undefined ? {} : { viewport: this.viewport }),
      actions: this.actions,
    };
    const result = recordingSchema.safeParse(candidate);
    if (!result.success) {
      // The mapping produced something the canonical model refuses: name the step.
      const issues = result.error.issues.slice(0, MAX_REPORTED_ISSUES).map((issue) => {
        const [first, second, ...rest] = issue.path;
        if (first === "actions" && typeof second === "number") {
          return {
            path: this.sources[second] ?? formatPath(issue.path),
            message: `converts to an invalid action (${formatPath(rest)}: ${issue.message})`,
          };
        }
        return { path: formatPath(issue.path), message: issue.message };
      });
      throw new RecordingImportError("This Chrome DevTools Recorder export converts to an invalid recording", issues);
    }
    const title = this.source.title;
    return {
      recording: result.data,
      warnings: this.warnings,
      source: {
        format: "chrome-recorder",
        ...(title === undefined ? {} : { title }),
        stepCount: this.source.steps.length,
        stepTypes: this.stepTypes,
        dropped: [...this.dropped].sort((a, b) => a.index - b.index),
      },
      actionSources: this.sources,
      original: this.original(),
    };
  }

  private step(raw: unknown, index: number): void {
    const prefix = this.stepPath(index);
    const base = anyStepSchema.safeParse(raw);
    if (!base.success) {
      this.issues.push(...zodIssues(base.error, raw, prefix));
      return;
    }
    const { type } = base.data;
    this.stepTypes[type] = (this.stepTypes[type] ?? 0) + 1;
    if (!isChromeStepType(type)) {
      const why = LIGHTHOUSE_STEP_TYPES.has(type)
        ? "a Lighthouse user-flow step, outside the Recorder's schema (Conveyor makes no Lighthouse reports)"
        : `unknown step type ${JSON.stringify(type)}, outside the Recorder's schema`;
      this.warnAt(index, type, `${why}; skipped`);
      this.drop(index, type, "unknown-type");
      return;
    }
    if (type === "customStep") {
      const name = isRecord(raw) && typeof raw.name === "string" ? ` ${JSON.stringify(raw.name)}` : "";
      this.issues.push({
        path: formatPath(prefix),
        message: `customStep${name}: custom steps run code Conveyor does not have (a Recorder extension's); remove it or replace it with standard steps`,
      });
      return;
    }
    const parsed = CHROME_STEP_SCHEMAS[type].safeParse(raw);
    if (!parsed.success) {
      this.issues.push(...zodIssues(parsed.error, raw, prefix));
      return;
    }
    this.convertStep(index, parsed.data as ChromeStep);
  }

  private convertStep(index: number, step: ChromeStep): void {
    const common = this.common(index, step);
    if (common === undefined) return;
    let replayed = true;
    switch (step.type) {
      case "setViewport":
        this.setViewport(index, step, common);
        break;
      case "navigate":
        if (BROWSER_PAGE.test(step.url)) {
          // Where the Recorder was opened (a new tab): a run starts on a blank page instead, and
          // the browser's own pages are no address a recording may open.
          this.warnAt(index, step.type, `${step.url} is the browser's own page, not a site; skipped`);
          this.drop(index, step.type, "unsupported");
          replayed = false;
          break;
        }
        this.keep(index, { type: "navigate", url: step.url, ...common });
        break;
      case "click":
      case "doubleClick":
        replayed = this.click(index, step, common);
        break;
      case "hover": {
        const selector = this.selector(index, step.selectors);
        if (selector) this.keep(index, { type: "hover", selector, ...common });
        break;
      }
      case "change":
        this.change(index, step, common);
        break;
      case "keyDown":
        this.keyDown(index, step, common);
        break;
      case "keyUp":
        replayed = this.keyUp(index, step);
        break;
      case "scroll":
        this.scroll(index, step, common);
        break;
      case "waitForElement":
        this.waitForElement(index, step, common);
        break;
      case "waitForExpression":
        if (step.expression.trim() === "") {
          this.issue(index, ["expression"], "is empty");
          return;
        }
        this.keep(index, { type: "waitForExpression", expression: step.expression, ...common });
        break;
      case "close":
        this.keep(index, { type: "close", ...common });
        break;
      case "emulateNetworkConditions":
        this.emulateNetwork(index, step, common);
        break;
      case "customStep":
        // Refused in step(), before parsing.
        return;
      default: {
        const unreachable: never = step;
        throw new Error(`unhandled Chrome step ${JSON.stringify(unreachable)}`);
      }
    }
    if (replayed) this.assertEvents(index, step, common);
  }

  /** Timeout, target, frame and description of a step; undefined when one of them is wrong. */
  private common(index: number, step: ChromeStep): Common | undefined {
    const common: Common = {};
    const timeoutMs =
      step.timeout === undefined ? this.defaultTimeoutMs : this.timeoutMs(index, ["timeout"], step.timeout);
    if (step.timeout !== undefined && timeoutMs === undefined) return undefined;
    if (timeoutMs !== undefined) common.timeoutMs = timeoutMs;
    if (step.target !== undefined && step.target !== "main") common.target = step.target;
    if (step.frame !== undefined && step.frame.length > 0) common.frame = step.frame;
    const name = step.stepOptions?.stepName?.trim();
    if (name) common.description = name.slice(0, MAX_DESCRIPTION_LENGTH);
    return common;
  }

  /** A timeout in whole ms within the canonical bounds; undefined (and an issue) when it is not positive. */
  private timeoutMs(index: number | undefined, field: string[], value: number): number | undefined {
    const path = index === undefined ? field : [...this.stepPath(index), ...field];
    if (!Number.isFinite(value) || value <= 0) {
      this.issues.push({ path: formatPath(path), message: "must be a positive number of milliseconds" });
      return undefined;
    }
    const ms = Math.max(1, Math.round(value));
    if (ms > MAX_TIMEOUT_MS) {
      const message = `timeout ${ms} ms is longer than Conveyor's ${MAX_TIMEOUT_MS} ms; ${MAX_TIMEOUT_MS} ms used`;
      if (index === undefined) this.warnings.push({ path: "timeout", message });
      else this.warnAt(index, this.typeAt(index), message);
      return MAX_TIMEOUT_MS;
    }
    return ms;
  }

  private setViewport(index: number, step: ChromeStepOf<"setViewport">, common: Common): void {
    const extras = [
      step.deviceScaleFactor !== undefined && step.deviceScaleFactor !== 1
        ? `deviceScaleFactor ${step.deviceScaleFactor}`
        : "",
      step.isMobile ? "isMobile" : "",
      step.hasTouch ? "hasTouch" : "",
      step.isMobile && step.isLandscape ? "isLandscape" : "",
    ].filter(Boolean);
    if (extras.length > 0) {
      this.warnAt(index, step.type, `${extras.join(", ")} not emulated: Conveyor sets the viewport's size only`);
    }
    const width = clamp(Math.round(step.width), VIEWPORT.minWidth, VIEWPORT.maxWidth);
    const height = clamp(Math.round(step.height), VIEWPORT.minHeight, VIEWPORT.maxHeight);
    if (width !== Math.round(step.width) || height !== Math.round(step.height)) {
      this.warnAt(
        index,
        step.type,
        `viewport ${step.width}×${step.height} is outside ${VIEWPORT.minWidth}×${VIEWPORT.minHeight}–${VIEWPORT.maxWidth}×${VIEWPORT.maxHeight}; ${width}×${height} used`,
      );
    }
    const first = this.viewport === undefined && this.actions.length === 0;
    if (first && common.target === undefined && common.frame === undefined) {
      this.viewport = { width, height };
      this.drop(index, step.type, "viewport");
      return;
    }
    this.keep(index, { type: "setViewport", width, height, ...common });
  }

  /** False when the click is not replayed (a back or forward button). */
  private click(index: number, step: ChromeStepOf<"click" | "doubleClick">, common: Common): boolean {
    let button: "left" | "middle" | "right" | undefined;
    if (step.button !== undefined) {
      if (!Object.hasOwn(BUTTONS, step.button)) {
        this.issue(index, ["button"], `expected one of ${Object.keys(BUTTONS).join(", ")}`);
        return false;
      }
      button = BUTTONS[step.button];
      if (button === undefined) {
        this.warnAt(
          index,
          step.type,
          `the ${step.button} mouse button can't be replayed (it navigates history); skipped`,
        );
        this.drop(index, step.type, "unsupported");
        return false;
      }
    }
    if (step.deviceType !== undefined && !DEVICE_TYPES.has(step.deviceType)) {
      this.issue(index, ["deviceType"], `expected one of ${[...DEVICE_TYPES].join(", ")}`);
      return false;
    }
    const selector = this.selector(index, step.selectors);
    if (!selector) return false;
    if (step.deviceType === "touch" || step.deviceType === "pen") {
      this.warnAt(index, step.type, `a ${step.deviceType} tap: replayed as a mouse click`);
    }
    const click: ActionOf<"click"> = { type: "click", selector, ...common };
    if (button !== undefined) click.button = button;
    if (step.type === "doubleClick") click.clickCount = 2;
    const modifiers = this.useHeld();
    if (modifiers.length > 0) click.modifiers = modifiers;
    const { offsetX, offsetY } = step;
    if (offsetX !== undefined && offsetY !== undefined) {
      if (offsetX >= 0 && offsetY >= 0) click.position = { x: offsetX, y: offsetY };
      else
        this.warnAt(
          index,
          step.type,
          `the click point (${offsetX}, ${offsetY}) is outside the element; its centre is clicked`,
        );
    }
    if (step.duration !== undefined && step.duration > 0) {
      click.holdMs = clamp(Math.round(step.duration), 0, MAX_HOLD_MS);
    }
    this.keep(index, click);
    return true;
  }

  /**
   * A change: the field's new value (`input`, which the runner also uses for selects and
   * contenteditable). On what the selectors show is a checkbox or radio button it becomes `check`:
   * checked when the value is "on", "true", "1", "yes" or "checked" (a radio button is checked
   * whatever the value: it can't be unchecked). A value typed into a password-like field is sensitive.
   */
  private change(index: number, step: ChromeStepOf<"change">, common: Common): void {
    const selector = this.selector(index, step.selectors);
    if (!selector) return;
    const toggle = toggleKind(selector);
    if (toggle === "radio") {
      this.keep(index, { type: "check", selector, ...common });
      return;
    }
    if (toggle === "checkbox") {
      this.keep(index, {
        type: "check",
        selector,
        checked: CHECKED_VALUES.has(step.value.trim().toLowerCase()),
        ...common,
      });
      return;
    }
    const sensitive = looksSecret(selector);
    if (sensitive) this.secretSteps.add(index);
    this.keep(index, {
      type: "input",
      selector,
      value: step.value,
      ...(sensitive ? { sensitive: true } : {}),
      ...common,
    });
  }

  /**
   * keyDown: a modifier (Shift, Control, Alt, Meta) is held until its keyUp and given to the keys
   * pressed and the clicks made meanwhile; any other key becomes a keypress at once, with the
   * modifiers held. Its keyUp then has nothing left to do.
   */
  private keyDown(index: number, step: ChromeStepOf<"keyDown">, common: Common): void {
    const modifier = MODIFIER_KEYS[step.key];
    if (modifier !== undefined) {
      this.held.push({ key: step.key, modifier, index, common, used: false });
      return;
    }
    const key = KEY_NAMES[step.key] ?? step.key;
    const modifiers = this.useHeld();
    this.keep(index, { type: "keypress", key, ...(modifiers.length > 0 ? { modifiers } : {}), ...common });
    this.pressed.set(step.key, (this.pressed.get(step.key) ?? 0) + 1);
  }

  /** False when the keyUp releases a key that was never pressed. */
  private keyUp(index: number, step: ChromeStepOf<"keyUp">): boolean {
    if (MODIFIER_KEYS[step.key] !== undefined) {
      const at = this.held.findLastIndex((held) => held.key === step.key);
      const held = this.held[at];
      if (held === undefined) return this.unpaired(index, step);
      this.held.splice(at, 1);
      this.release(held);
      this.drop(index, step.type, "key-release");
      return true;
    }
    const down = this.pressed.get(step.key) ?? 0;
    if (down === 0) return this.unpaired(index, step);
    if (down === 1) this.pressed.delete(step.key);
    else this.pressed.set(step.key, down - 1);
    this.drop(index, step.type, "key-release");
    return true;
  }

  private unpaired(index: number, step: ChromeStepOf<"keyUp">): false {
    this.warnAt(index, step.type, `releases ${JSON.stringify(step.key)}, which no keyDown before it pressed; skipped`);
    this.drop(index, step.type, "unsupported");
    return false;
  }

  /**
   * A modifier released: carried by what was pressed or clicked while it was down, or, when
   * nothing was, pressed on its own (with the other modifiers still held) where it was released.
   */
  private release(held: HeldModifier): void {
    if (held.used) {
      this.drop(held.index, "keyDown", "modifier");
      return;
    }
    const modifiers = this.useHeld();
    this.keep(held.index, {
      type: "keypress",
      key: held.key,
      ...(modifiers.length > 0 ? { modifiers } : {}),
      ...held.common,
    });
  }

  /** Modifiers never released: pressed alone at the end when nothing used them. */
  private releaseHeldAtEnd(): void {
    const held = this.held;
    this.held = [];
    for (const modifier of held) {
      if (!modifier.used) {
        this.warnAt(
          modifier.index,
          "keyDown",
          `${JSON.stringify(modifier.key)} is never released; pressed on its own at the end of the recording`,
        );
      }
      this.release(modifier);
    }
  }

  /** The modifiers held now, marked as used. */
  private useHeld(): Modifier[] {
    const modifiers: Modifier[] = [];
    for (const held of this.held) {
      held.used = true;
      if (!modifiers.includes(held.modifier)) modifiers.push(held.modifier);
    }
    return MODIFIERS.filter((modifier) => modifiers.includes(modifier));
  }

  private scroll(index: number, step: ChromeStepOf<"scroll">, common: Common): void {
    const scroll: ActionOf<"scroll"> = {
      type: "scroll",
      // The canonical model scrolls to a position; negative ones (overscroll) mean the edge.
      x: Math.max(0, step.x ?? 0),
      y: Math.max(0, step.y ?? 0),
      ...common,
    };
    if (step.selectors !== undefined) {
      const selector = this.selector(index, step.selectors);
      if (!selector) return;
      scroll.selector = selector;
    }
    this.keep(index, scroll);
  }

  /**
   * The Recorder's runner counts the elements the selector matches (visible or not) and compares
   * the count with `count` (default 1) by `operator` (default ">="), all of them having the given
   * properties and attributes; `visible: false` inverts the whole test. The inverse of a count
   * test is a count test (`>= n` → `<= n-1`, `<= n` → `>= n+1`); the inverse of "==" or of a
   * property test is not, and is refused.
   */
  private waitForElement(index: number, step: ChromeStepOf<"waitForElement">, common: Common): void {
    const selector = this.selector(index, step.selectors);
    if (!selector) return;
    const wait: ActionOf<"waitForElement"> = { type: "waitForElement", selector, ...common };
    if (step.visible === false) {
      const operator = step.operator ?? ">=";
      const count = step.count ?? 1;
      const checksValues = step.properties !== undefined || step.attributes !== undefined;
      if (checksValues || operator === "==" || (operator === ">=" && count === 0)) {
        const what = checksValues
          ? "properties or attributes (wait until they no longer match)"
          : operator === "=="
            ? `operator "==" (wait until the count is anything but ${count})`
            : "count 0 (never true)";
        this.issue(
          index,
          ["visible"],
          `visible: false with ${what} has no Conveyor equivalent; remove the step or wait for what should appear instead`,
        );
        return;
      }
      wait.operator = operator === ">=" ? "<=" : ">=";
      wait.count = operator === ">=" ? count - 1 : count + 1;
    } else {
      if (step.operator !== undefined) wait.operator = step.operator;
      if (step.count !== undefined) wait.count = step.count;
      if (step.properties !== undefined) wait.properties = step.properties;
      if (step.attributes !== undefined) wait.attributes = step.attributes;
    }
    this.keep(index, wait);
  }

  private emulateNetwork(index: number, step: ChromeStepOf<"emulateNetworkConditions">, common: Common): void {
    this.keep(index, {
      type: "emulateNetwork",
      // As the Recorder's runner reads it: no throughput at all is offline.
      ...(step.download === 0 && step.upload === 0 ? { offline: true } : {}),
      downloadThroughput: Math.max(-1, step.download),
      uploadThroughput: Math.max(-1, step.upload),
      latencyMs: clamp(step.latency, 0, MAX_LATENCY_MS),
      ...common,
    });
  }

  /**
   * A navigation the step asserts (the Recorder's runner waits for one) becomes checks after it:
   * the URL equals the recorded one (or, when it has a query string, contains the address before
   * it), the title equals the recorded one. An empty title (the Recorder writes "" when the page
   * had none yet) is not checked.
   */
  private assertEvents(index: number, step: ChromeStep, common: Common): void {
    const events = step.assertedEvents ?? [];
    const { frame: _frame, description: _description, ...rest } = common;
    events.forEach((event, position) => {
      if (event.type !== "navigation") {
        this.warnAt(
          index,
          step.type,
          `asserted event type ${JSON.stringify(event.type)} has no Conveyor equivalent; not checked`,
        );
        return;
      }
      if (common.frame !== undefined) {
        this.warnAt(
          index,
          step.type,
          `assertedEvents[${position}]: a navigation inside a frame; Conveyor checks the page's URL and title, not a frame's, so it is not checked`,
        );
        return;
      }
      const url = event.url?.trim();
      if (url) {
        // A query string carries what changes from one visit to the next (session and tracking
        // tokens, Google's `ei=`): the address up to it is checked instead.
        const query = url.indexOf("?");
        this.keep(
          index,
          query === -1
            ? { type: "assert", check: "urlMatch", expected: url, ...rest }
            : { type: "assert", check: "urlContains", expected: url.slice(0, query), ...rest },
        );
      }
      if (event.title) this.keep(index, { type: "assert", check: "pageTitle", expected: event.title, ...rest });
    });
  }

  /** The step's selectors as candidates; undefined (and an issue) when none is usable. */
  private selector(index: number, selectors: ChromeSelectors): SelectorCandidate[] | undefined {
    const { candidates, problems } = chromeCandidates(selectors, this.source.selectorAttribute);
    for (const problem of problems) this.warnAt(index, this.typeAt(index), problem);
    if (candidates.length === 0) {
      this.issue(
        index,
        ["selectors"],
        problems.length > 0 ? "no usable selector: every one is empty or too long" : "is empty",
      );
      return undefined;
    }
    return candidates;
  }

  private keep(index: number, action: Action): void {
    this.actions.push(action);
    this.sources.push(formatPath(this.stepPath(index)));
  }

  private drop(index: number, type: string, reason: StepDropReason): void {
    this.dropped.push({ index, type, reason });
  }

  private issue(index: number, field: string[], message: string): void {
    this.issues.push({ path: formatPath([...this.stepPath(index), ...field]), message });
  }

  private warnAt(index: number, type: string, message: string): void {
    this.warnings.push({ index, type, path: formatPath(this.stepPath(index)), message });
  }

  private typeAt(index: number): string {
    const raw = this.source.steps[index];
    return isRecord(raw) && typeof raw.type === "string" ? raw.type : "";
  }

  private stepPath(index: number): (string | number)[] {
    return this.single ? [] : ["steps", index];
  }

  private name(): string {
    const title = this.source.title?.trim();
    if (title) return title.slice(0, MAX_NAME_LENGTH);
    this.warnings.push({
      path: "title",
      message: this.single
        ? `a single step, not a whole recording (no title or steps); imported as a one-step recording named ${JSON.stringify(FALLBACK_NAME)}`
        : `the export has no title (the Recorder requires one); named ${JSON.stringify(FALLBACK_NAME)}`,
    });
    return FALLBACK_NAME;
  }

  /** The upload as received, values typed into secret fields replaced. */
  private original(): unknown {
    if (this.secretSteps.size === 0) return this.input;
    const copy = structuredClone(this.input);
    const steps = this.single ? [copy] : isRecord(copy) && Array.isArray(copy.steps) ? (copy.steps as unknown[]) : [];
    for (const index of this.secretSteps) {
      const step = steps[index];
      if (isRecord(step)) step.value = REDACTED;
    }
    return copy;
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
