import { z } from "zod";

/**
 * The canonical recording model: what the runner executes and what users may write by hand.
 * Documented in docs/recording-format.md; the API publishes it as JSON Schema.
 */

/**
 * How a selector candidate finds its element:
 * css, testid (`data-testid`), id, text (exact visible text), text-contains, xpath, aria-label,
 * name, role (ARIA role), placeholder, href (links whose href contains the value), src (media whose
 * src contains the value), aria (accessible name and role, Chrome DevTools Recorder's syntax:
 * `Name`, `Name[role="button"]` or `[role="button"]`), pierce (CSS matched inside every open
 * shadow root too, at any depth).
 */
export const SELECTOR_STRATEGIES = [
  "css",
  "testid",
  "id",
  "text",
  "text-contains",
  "xpath",
  "aria-label",
  "name",
  "role",
  "placeholder",
  "href",
  "src",
  "aria",
  "pierce",
] as const;
export type SelectorStrategy = (typeof SELECTOR_STRATEGIES)[number];

/** One part of a chained selector: see `within`. */
export const selectorPartSchema = z.object({
  strategy: z.enum(SELECTOR_STRATEGIES),
  value: z.string().min(1).max(4096),
});
export type SelectorPart = z.infer<typeof selectorPartSchema>;

export const selectorCandidateSchema = z.object({
  strategy: z.enum(SELECTOR_STRATEGIES),
  value: z.string().min(1).max(4096),
  /**
   * A chain: the parts this candidate is looked up inside, outermost first. Each part is found
   * inside the element the previous one found (and inside its open shadow root), and the
   * candidate inside the last. Chrome DevTools Recorder writes these for elements in shadow DOM.
   */
  within: z.array(selectorPartSchema).min(1).max(16).optional(),
  /**
   * 0–100: how sure the recorder was that this candidate identifies the element. A candidate
   * with confidence ≥ 80 ({@link HIGH_CONFIDENCE}) must match exactly one element to be used.
   */
  confidence: z.number().min(0).max(100).optional(),
});

/** Candidates at or above this confidence must match exactly one element. */
export const HIGH_CONFIDENCE = 80;
export type SelectorCandidate = z.infer<typeof selectorCandidateSchema>;

/**
 * Where an action acts: a CSS selector string, or candidates tried in order (the first that
 * matches an element is used, and the result records which one).
 */
export const selectorSchema = z.union([z.string().min(1).max(4096), z.array(selectorCandidateSchema).min(1).max(32)], {
  error: (issue) =>
    issue.input === undefined
      ? "is required"
      : "expected a CSS selector string or an array of { strategy, value } candidates",
});
export type Selector = z.infer<typeof selectorSchema>;

const actionBase = {
  /** A stable id for the action, echoed in results. Defaults to its position (`a1`, `a2`, …). */
  id: z.string().min(1).max(128).optional(),
  /** Free text shown in results. */
  description: z.string().max(1024).optional(),
  /** Per-action timeout in milliseconds; defaults to the run's action timeout. */
  timeoutMs: z.number().int().min(1).max(600_000).optional(),
  /** When true, a failure of this action is recorded as skipped and the run goes on. */
  optional: z.boolean().optional(),
  /**
   * The iframe the action happens in. A string: the CSS selector of the iframe (nested frames:
   * several, outermost first, separated by " >>> "). An array of numbers: child-frame indexes from
   * the top frame, outermost first (`[0, 1]`: the second child frame of the first child frame), as
   * Chrome DevTools Recorder writes them. Absent or `[]`: the top frame.
   */
  frame: z.union([z.string().min(1).max(4096), z.array(z.number().int().min(0).max(1000)).max(32)]).optional(),
  /**
   * The page (tab) the action happens in. Absent or "main": the page the run started with. Any
   * other value: the URL of a page the recording opened (a popup, a link with target=_blank):
   * the newest open page whose URL equals it, else whose URL starts with it. Waits for such a
   * page to open, within the action's timeout.
   */
  target: z.string().min(1).max(8192).optional(),
  /**
   * Milliseconds the recorded user waited before this action. Honoured only with run option
   * `timing: "realtime"` (scaled by `speed`, capped by `maxDelayMs`); `fast` ignores it.
   */
  delayBeforeMs: z.number().int().min(0).max(3_600_000).optional(),
};

export const MODIFIERS = ["Alt", "Control", "Meta", "Shift"] as const;
export type Modifier = (typeof MODIFIERS)[number];
const modifiersSchema = z.array(z.enum(MODIFIERS)).max(4).optional();

export const navigateActionSchema = z.object({
  ...actionBase,
  type: z.literal("navigate"),
  url: z.string().min(1).max(8192),
  waitUntil: z.enum(["load", "domcontentloaded", "networkidle", "commit"]).optional(),
});

export const clickActionSchema = z.object({
  ...actionBase,
  type: z.literal("click"),
  selector: selectorSchema,
  /** Default left. */
  button: z.enum(["left", "right", "middle"]).optional(),
  /** 2 for a double click. Default 1. */
  clickCount: z.number().int().min(1).max(3).optional(),
  /** Keys held during the click. */
  modifiers: modifiersSchema,
  /** Where to click, in CSS pixels from the element's top-left corner. Default: its centre. */
  position: z.object({ x: z.number().min(0), y: z.number().min(0) }).optional(),
  /** How long the button is held down, ms. Default 0. */
  holdMs: z.number().int().min(0).max(60_000).optional(),
});

export const inputActionSchema = z.object({
  ...actionBase,
  type: z.literal("input"),
  selector: selectorSchema,
  value: z.string().max(65_536),
  /** Marks the value as a secret: it is redacted from stored results, events and logs. */
  sensitive: z.boolean().optional(),
  /** "fill" (default) sets the value at once; "type" presses each key, `typingDelayMs` apart. */
  mode: z.enum(["fill", "type"]).optional(),
  /** With mode "type": delay between keystrokes, ms. Default 0. */
  typingDelayMs: z.number().int().min(0).max(5000).optional(),
});

/** Sets a checkbox or radio button. */
export const checkActionSchema = z.object({
  ...actionBase,
  type: z.literal("check"),
  selector: selectorSchema,
  /** true to check, false to uncheck (radio buttons can only be checked). Default true. */
  checked: z.boolean().optional(),
});

export const keypressActionSchema = z.object({
  ...actionBase,
  type: z.literal("keypress"),
  /** A Playwright key name: `Enter`, `Tab`, `Escape`, `a`, `ArrowDown`, … */
  key: z.string().min(1).max(64),
  /** Keys held while pressing `key`. */
  modifiers: modifiersSchema,
  /** The element to focus first; without it the key goes to whatever has focus. */
  selector: selectorSchema.optional(),
});

export const selectActionSchema = z
  .object({
    ...actionBase,
    type: z.literal("select"),
    selector: selectorSchema,
    /** The option's value. Tried first. */
    value: z.string().max(4096).optional(),
    /** The option's visible label. Tried when no option has `value`. */
    label: z.string().max(4096).optional(),
    /** The option's 0-based position. Tried last. */
    index: z.number().int().min(0).optional(),
  })
  .refine((a) => a.value !== undefined || a.label !== undefined || a.index !== undefined, {
    path: ["value"],
    message: "give at least one of value, label or index",
  });

export const hoverActionSchema = z.object({
  ...actionBase,
  type: z.literal("hover"),
  selector: selectorSchema,
  /** Stay over the element this long (realtime timing only), ms. */
  durationMs: z.number().int().min(0).max(60_000).optional(),
});

export const scrollActionSchema = z.object({
  ...actionBase,
  type: z.literal("scroll"),
  /** The scrolling element; absent scrolls the window. */
  selector: selectorSchema.optional(),
  /** Scroll position to reach, CSS pixels. */
  x: z.number().min(0).default(0),
  y: z.number().min(0).default(0),
});

/** Submits a form (as pressing its submit button would, with validation and submit events). */
export const submitActionSchema = z.object({
  ...actionBase,
  type: z.literal("submit"),
  /** The form, or an element inside it. */
  selector: selectorSchema,
});

/** Waits for a modal dialog in the page (not a browser alert) to open or close. */
export const modalActionSchema = z.object({
  ...actionBase,
  type: z.literal("modal"),
  state: z.enum(["open", "closed"]),
  /** The dialog; absent: any `dialog[open]`, `[role=dialog]`, `[aria-modal=true]` or common library modal. */
  selector: selectorSchema.optional(),
});

/**
 * Waits until the page has the expected number of elements matching `selector` (Chrome DevTools
 * Recorder's waitForElement): `count` compared with `operator`, and, when given, only elements
 * that are visible (`visible: true`) or hidden (`false`) and whose DOM properties and attributes
 * have the given values count.
 */
export const waitForElementActionSchema = z.object({
  ...actionBase,
  type: z.literal("waitForElement"),
  selector: selectorSchema,
  /** Default ">=". */
  operator: z.enum([">=", "==", "<="]).optional(),
  /** Default 1. */
  count: z.number().int().min(0).max(100_000).optional(),
  visible: z.boolean().optional(),
  /** DOM properties each counted element must have, compared as JSON (`{ "value": "x" }`). */
  properties: z.record(z.string().min(1).max(256), z.json()).optional(),
  /** Attributes each counted element must have, with these exact values. */
  attributes: z.record(z.string().min(1).max(256), z.string().max(65_536)).optional(),
});

/**
 * Waits until a JavaScript expression, evaluated in the page, is truthy. It runs the recording's
 * own code in the page: a project must enable it (`allowExpressions`), otherwise a recording
 * that holds one is refused.
 */
export const waitForExpressionActionSchema = z.object({
  ...actionBase,
  type: z.literal("waitForExpression"),
  expression: z.string().min(1).max(65_536),
});

/** Closes the page (`target`), e.g. a popup once done with it. */
export const closeActionSchema = z.object({
  ...actionBase,
  type: z.literal("close"),
});

/**
 * Emulates network conditions from here on (Chromium's): offline, or throughput in bytes per
 * second (-1: unlimited) and added latency in ms.
 */
export const emulateNetworkActionSchema = z.object({
  ...actionBase,
  type: z.literal("emulateNetwork"),
  offline: z.boolean().optional(),
  downloadThroughput: z.number().min(-1).optional(),
  uploadThroughput: z.number().min(-1).optional(),
  latencyMs: z.number().min(0).max(600_000).optional(),
});

/** Resizes the page's viewport mid-run (the recording's `viewport` sets the first one). */
export const setViewportActionSchema = z.object({
  ...actionBase,
  type: z.literal("setViewport"),
  width: z.number().int().min(100).max(7680),
  height: z.number().int().min(100).max(4320),
});

export const ASSERT_CHECKS = [
  "urlMatch",
  "urlContains",
  "elementVisible",
  "elementText",
  "containsText",
  "elementHasValue",
  "pageTitle",
  "pageLoad",
] as const;
export type AssertCheck = (typeof ASSERT_CHECKS)[number];

export const assertActionSchema = z
  .object({
    ...actionBase,
    type: z.literal("assert"),
    /**
     * urlMatch: the URL equals `expected`; urlContains: the URL contains it; elementVisible: the
     * selector is visible; elementText: its text equals `expected` (whitespace collapsed);
     * containsText: its text (or the page's, without a selector) contains `expected`;
     * elementHasValue: the form field's value equals `expected`; pageTitle: the title equals
     * `expected`; pageLoad: the page finished loading (`expected` unused).
     */
    check: z.enum(ASSERT_CHECKS),
    selector: selectorSchema.optional(),
    expected: z.string().max(65_536).optional(),
  })
  .superRefine((action, ctx) => {
    const needsSelector = ["elementVisible", "elementText", "elementHasValue"].includes(action.check);
    if (needsSelector && action.selector === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["selector"],
        message: `a selector is required for check "${action.check}"`,
      });
    }
    // pageLoad compares nothing: it waits for the document to finish loading.
    const needsExpected = action.check !== "elementVisible" && action.check !== "pageLoad";
    if (needsExpected && action.expected === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["expected"],
        message: `"expected" is required for check "${action.check}"`,
      });
    }
  });

export const ACTION_TYPES = [
  "navigate",
  "click",
  "input",
  "check",
  "keypress",
  "select",
  "hover",
  "scroll",
  "submit",
  "modal",
  "assert",
  "waitForElement",
  "waitForExpression",
  "close",
  "emulateNetwork",
  "setViewport",
] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export const actionSchema = z.discriminatedUnion("type", [
  navigateActionSchema,
  clickActionSchema,
  inputActionSchema,
  checkActionSchema,
  keypressActionSchema,
  selectActionSchema,
  hoverActionSchema,
  scrollActionSchema,
  submitActionSchema,
  modalActionSchema,
  assertActionSchema,
  waitForElementActionSchema,
  waitForExpressionActionSchema,
  closeActionSchema,
  emulateNetworkActionSchema,
  setViewportActionSchema,
]);
export type Action = z.infer<typeof actionSchema>;
export type ActionOf<T extends ActionType> = Extract<Action, { type: T }>;

export const MAX_ACTIONS = 2000;

export const recordingSchema = z.object({
  /** Version of this format. */
  version: z.literal(1).default(1),
  name: z.string().min(1).max(256),
  /** Opened before the first action, when given. */
  startUrl: z.string().min(1).max(8192).optional(),
  viewport: z
    .object({ width: z.number().int().min(100).max(7680), height: z.number().int().min(100).max(4320) })
    .optional(),
  /**
   * Variables the recording uses as `${NAME}`. A `default` is used when the run gives no value;
   * values of `sensitive` variables are redacted from results, events and logs.
   */
  variables: z
    .array(
      z.object({
        name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "variable names are letters, digits and _"),
        sensitive: z.boolean().optional(),
        default: z.string().max(65_536).optional(),
        description: z.string().max(1024).optional(),
      }),
    )
    .max(200)
    .optional(),
  /** What to answer browser dialogs (alert, confirm, prompt, beforeunload) with. Default "accept". */
  dialogs: z.enum(["accept", "dismiss"]).optional(),
  actions: z.array(actionSchema).min(1).max(MAX_ACTIONS),
});
export type Recording = z.infer<typeof recordingSchema>;
export type RecordingInput = z.input<typeof recordingSchema>;

/** The id results use for an action: its own, or its 1-based position. */
export function actionKey(action: Action, index: number): string {
  return action.id ?? `a${index + 1}`;
}
