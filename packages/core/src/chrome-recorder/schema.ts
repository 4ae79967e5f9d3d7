import { z } from "zod";

/**
 * Chrome DevTools Recorder's export format ("Export → JSON"), as far as the importer reads it:
 * the `@puppeteer/replay` schema (puppeteer/replay `src/Schema.ts`, parsed by `SchemaUtils.ts`;
 * DevTools keeps the same schema in `front_end/panels/recorder/models/Schema.ts`). Lenient where
 * the Recorder's own parser is strict about things Conveyor does not need (a missing `title`,
 * click offsets, the viewport's device flags), so hand-edited files import; a field present with
 * the wrong type is still an error, reported with its path. Unknown fields pass through.
 */

/** Every step type of the schema (`StepType`). */
export const CHROME_STEP_TYPES = [
  "change",
  "click",
  "close",
  "customStep",
  "doubleClick",
  "emulateNetworkConditions",
  "hover",
  "keyDown",
  "keyUp",
  "navigate",
  "scroll",
  "setViewport",
  "waitForElement",
  "waitForExpression",
] as const;
export type ChromeStepType = (typeof CHROME_STEP_TYPES)[number];

export function isChromeStepType(type: unknown): type is ChromeStepType {
  return typeof type === "string" && (CHROME_STEP_TYPES as readonly string[]).includes(type);
}

/**
 * Steps Lighthouse's user-flow runner adds to Recorder files (`startNavigation`, `startTimespan`,
 * `snapshot`, …): outside the schema, named so the warning can say where they come from.
 */
export const LIGHTHOUSE_STEP_TYPES = new Set([
  "startNavigation",
  "endNavigation",
  "startTimespan",
  "endTimespan",
  "snapshot",
]);

/**
 * One selector alternative: a string, or an array of strings (a chain: each part is looked up
 * inside the element the previous one found, and inside its shadow root when it has one).
 */
const selectorAlternativeSchema = z.union([z.string(), z.array(z.string())], {
  error: "expected a selector string or an array of selector strings (a chain)",
});

/** `selectors`: alternatives tried in order. A lone string is read as one alternative. */
const selectorsSchema = z.union([z.array(selectorAlternativeSchema), z.string()], {
  error: (issue) =>
    issue.input === undefined ? "is required" : "expected an array of selectors (strings or arrays of strings)",
});

const assertedEventSchema = z.looseObject({
  type: z.string(),
  url: z.string().optional(),
  title: z.string().optional(),
});

const baseFields = {
  type: z.string(),
  /** Milliseconds. */
  timeout: z.number().optional(),
  assertedEvents: z.array(assertedEventSchema).optional(),
  /** "main" (the default) or the URL of the page the step happens in. */
  target: z.string().optional(),
  /** Child-frame indexes from the top frame, outermost first. */
  frame: z.array(z.number().int().min(0)).optional(),
  /** Lighthouse user flows name steps here; kept as the action's description. */
  stepOptions: z.looseObject({ stepName: z.string().optional() }).optional(),
};

const withSelectors = { ...baseFields, selectors: selectorsSchema };

const clickFields = {
  ...withSelectors,
  /** Relative to the element's top-left corner, CSS pixels; the Recorder always writes them. */
  offsetX: z.number().optional(),
  offsetY: z.number().optional(),
  button: z.string().optional(),
  deviceType: z.string().optional(),
  /** Delay between mouse down and mouse up, ms. */
  duration: z.number().optional(),
};

export const changeStepSchema = z.looseObject({ ...withSelectors, type: z.literal("change"), value: z.string() });
export const clickStepSchema = z.looseObject({ ...clickFields, type: z.literal("click") });
export const doubleClickStepSchema = z.looseObject({ ...clickFields, type: z.literal("doubleClick") });
export const hoverStepSchema = z.looseObject({ ...withSelectors, type: z.literal("hover") });
export const closeStepSchema = z.looseObject({ ...baseFields, type: z.literal("close") });
export const customStepSchema = z.looseObject({
  ...baseFields,
  type: z.literal("customStep"),
  name: z.string(),
  parameters: z.unknown().optional(),
});
export const emulateNetworkConditionsStepSchema = z.looseObject({
  ...baseFields,
  type: z.literal("emulateNetworkConditions"),
  /** Bytes per second; -1: not throttled. */
  download: z.number(),
  upload: z.number(),
  /** Added round-trip latency, ms. */
  latency: z.number(),
});
export const keyDownStepSchema = z.looseObject({ ...baseFields, type: z.literal("keyDown"), key: z.string().min(1) });
export const keyUpStepSchema = z.looseObject({ ...baseFields, type: z.literal("keyUp"), key: z.string().min(1) });
export const navigateStepSchema = z.looseObject({ ...baseFields, type: z.literal("navigate"), url: z.string().min(1) });
export const scrollStepSchema = z.looseObject({
  ...baseFields,
  type: z.literal("scroll"),
  /** Absolute scroll position, CSS pixels. Default 0. */
  x: z.number().optional(),
  y: z.number().optional(),
  /** The scrolling element; absent: the page. */
  selectors: selectorsSchema.optional(),
});
export const setViewportStepSchema = z.looseObject({
  ...baseFields,
  type: z.literal("setViewport"),
  width: z.number(),
  height: z.number(),
  deviceScaleFactor: z.number().optional(),
  isMobile: z.boolean().optional(),
  hasTouch: z.boolean().optional(),
  isLandscape: z.boolean().optional(),
});
export const waitForElementStepSchema = z.looseObject({
  ...withSelectors,
  type: z.literal("waitForElement"),
  operator: z.enum([">=", "==", "<="], { error: 'expected one of ">=", "==", "<="' }).optional(),
  count: z.number().int().min(0).optional(),
  /** false inverts the step: wait until the count (and properties, attributes) no longer hold. */
  visible: z.boolean().optional(),
  properties: z.record(z.string(), z.json()).optional(),
  attributes: z.record(z.string(), z.string()).optional(),
});
export const waitForExpressionStepSchema = z.looseObject({
  ...baseFields,
  type: z.literal("waitForExpression"),
  expression: z.string(),
});

export const CHROME_STEP_SCHEMAS = {
  change: changeStepSchema,
  click: clickStepSchema,
  close: closeStepSchema,
  customStep: customStepSchema,
  doubleClick: doubleClickStepSchema,
  emulateNetworkConditions: emulateNetworkConditionsStepSchema,
  hover: hoverStepSchema,
  keyDown: keyDownStepSchema,
  keyUp: keyUpStepSchema,
  navigate: navigateStepSchema,
  scroll: scrollStepSchema,
  setViewport: setViewportStepSchema,
  waitForElement: waitForElementStepSchema,
  waitForExpression: waitForExpressionStepSchema,
} as const satisfies Record<ChromeStepType, z.ZodType>;

export type ChromeStep = { [T in ChromeStepType]: z.infer<(typeof CHROME_STEP_SCHEMAS)[T]> }[ChromeStepType];
export type ChromeStepOf<T extends ChromeStepType> = z.infer<(typeof CHROME_STEP_SCHEMAS)[T]>;
export type ChromeSelectors = z.infer<typeof selectorsSchema>;
export type ChromeAssertedEvent = z.infer<typeof assertedEventSchema>;

/** Any step: the per-type schemas run afterwards, so one bad step doesn't hide the others. */
export const anyStepSchema = z.looseObject({ type: z.string() });

export const chromeRecordingSchema = z.looseObject({
  /** Required by the Recorder's parser; a missing one is named with a warning. */
  title: z.string().optional(),
  /** Default timeout of every step, ms. */
  timeout: z.number().optional(),
  /** The attribute the Recorder built CSS selectors from (`data-testid` → `[data-testid="…"]`). */
  selectorAttribute: z.string().optional(),
  steps: z.array(z.unknown()),
});
export type ChromeRecording = z.infer<typeof chromeRecordingSchema>;
