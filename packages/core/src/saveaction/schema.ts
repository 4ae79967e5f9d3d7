import { z } from "zod";

/**
 * The SaveAction recorder's export format, as far as the importer reads it. Lenient on purpose:
 * exports from several recorder versions are in the wild, so unknown fields pass through and
 * most fields are optional (`null` counts as absent). A field that is present with the wrong
 * type is still an error, reported with its path. Source of truth: the public types in
 * SaveActionHQ/SaveAction `packages/core/src/types/` and the recorder extension's `src/types/`.
 */

const optionalString = z.string().nullish();
const optionalNumber = z.number().nullish();

/** The legacy multi-strategy `selector` object every element action carries. */
export const legacySelectorSchema = z.looseObject({
  id: optionalString,
  dataTestId: optionalString,
  ariaLabel: optionalString,
  name: optionalString,
  css: optionalString,
  xpath: optionalString,
  xpathAbsolute: optionalString,
  text: optionalString,
  textContains: optionalString,
  position: z.looseObject({ parent: z.string(), index: z.number().int().min(0) }).nullish(),
  /** Keys of this object in the order the recorder wants them tried. */
  priority: z.array(z.string()).nullish(),
});
export type LegacySelector = z.infer<typeof legacySelectorSchema>;

/** The newer `selectors[]` array (recorder v2): one strategy per entry, with a confidence. */
export const rankedSelectorSchema = z.looseObject({
  strategy: z.string(),
  value: z.string(),
  /** Lower is tried first. */
  priority: optionalNumber,
  /** 0–100. */
  confidence: optionalNumber,
  context: optionalString,
});
export type RankedSelector = z.infer<typeof rankedSelectorSchema>;

/** `alternativeSelectors[]`: loose fallbacks the recorder attaches to some actions. */
export const alternativeSelectorSchema = z.looseObject({
  css: optionalString,
  xpath: optionalString,
  dataAttribute: optionalString,
  ariaLabel: optionalString,
  text: optionalString,
  priority: optionalNumber,
});
export type AlternativeSelector = z.infer<typeof alternativeSelectorSchema>;

const baseFields = {
  id: optionalString,
  type: z.string(),
  /** Milliseconds: relative to the recording's start, or epoch. Only differences are used. */
  timestamp: optionalNumber,
  completedAt: optionalNumber,
  url: optionalString,
  frameId: z.union([z.string(), z.number()]).nullish(),
  frameUrl: optionalString,
  frameSelector: optionalString,
  selectors: z.array(rankedSelectorSchema).nullish(),
  alternativeSelectors: z.array(alternativeSelectorSchema).nullish(),
};

const elementFields = {
  ...baseFields,
  selector: legacySelectorSchema.nullish(),
  tagName: optionalString,
};

const modifiersField = z.array(z.string()).nullish();

export const clickSchema = z.looseObject({
  ...elementFields,
  type: z.literal("click"),
  text: optionalString,
  coordinates: z.looseObject({ x: z.number(), y: z.number() }).nullish(),
  coordinatesRelativeTo: optionalString,
  button: optionalString,
  clickCount: optionalNumber,
  modifiers: modifiersField,
  inputType: optionalString,
  checked: z.boolean().nullish(),
});

export const inputSchema = z.looseObject({
  ...elementFields,
  type: z.literal("input"),
  value: z.string(),
  inputType: optionalString,
  isSensitive: z.boolean().nullish(),
  simulationType: optionalString,
  typingDelay: optionalNumber,
  variableName: optionalString,
  checked: z.boolean().nullish(),
});

export const selectSchema = z.looseObject({
  ...elementFields,
  type: z.literal("select"),
  selectedValue: optionalString,
  selectedText: optionalString,
  selectedIndex: optionalNumber,
});

export const navigationSchema = z.looseObject({
  ...baseFields,
  type: z.literal("navigation"),
  from: optionalString,
  to: z.string().min(1),
  navigationTrigger: optionalString,
  waitUntil: optionalString,
  duration: optionalNumber,
  relatedAction: optionalString,
});

export const hoverSchema = z.looseObject({
  ...elementFields,
  type: z.literal("hover"),
  duration: optionalNumber,
});

export const scrollSchema = z.looseObject({
  ...baseFields,
  type: z.literal("scroll"),
  scrollX: optionalNumber,
  scrollY: optionalNumber,
  /** "window", or the scrolled element: a CSS selector string or a legacy selector object. */
  element: z.union([z.string(), legacySelectorSchema]).nullish(),
});

export const keypressSchema = z.looseObject({
  ...baseFields,
  type: z.literal("keypress"),
  key: z.string().min(1),
  code: optionalString,
  modifiers: modifiersField,
  selector: legacySelectorSchema.nullish(),
});

export const submitSchema = z.looseObject({
  ...elementFields,
  type: z.literal("submit"),
});

export const modalLifecycleSchema = z.looseObject({
  ...baseFields,
  type: z.literal("modal-lifecycle"),
  event: z.string(),
  modalId: optionalString,
  modalSelector: optionalString,
  initialState: optionalString,
});

export const checkpointSchema = z.looseObject({
  ...elementFields,
  type: z.literal("checkpoint"),
  checkType: z.string(),
  expectedUrl: optionalString,
  actualUrl: optionalString,
  expectedValue: optionalString,
  passed: z.boolean().nullish(),
  auto: z.boolean().nullish(),
});

export const dialogSchema = z.looseObject({
  ...baseFields,
  type: z.literal("dialog"),
  dialogType: optionalString,
  message: optionalString,
  response: optionalString,
  promptValue: optionalString,
});

/** Every action type a SaveAction export can hold, each with its schema. */
export const SAVEACTION_ACTION_SCHEMAS = {
  click: clickSchema,
  input: inputSchema,
  select: selectSchema,
  navigation: navigationSchema,
  hover: hoverSchema,
  scroll: scrollSchema,
  keypress: keypressSchema,
  submit: submitSchema,
  "modal-lifecycle": modalLifecycleSchema,
  checkpoint: checkpointSchema,
  dialog: dialogSchema,
} as const;
export type SaveActionActionType = keyof typeof SAVEACTION_ACTION_SCHEMAS;
export const SAVEACTION_ACTION_TYPES = Object.keys(SAVEACTION_ACTION_SCHEMAS) as SaveActionActionType[];

export function isSaveActionActionType(type: unknown): type is SaveActionActionType {
  return typeof type === "string" && Object.hasOwn(SAVEACTION_ACTION_SCHEMAS, type);
}

export type SaveActionAction = {
  [T in SaveActionActionType]: z.infer<(typeof SAVEACTION_ACTION_SCHEMAS)[T]>;
}[SaveActionActionType];
export type SaveActionActionOf<T extends SaveActionActionType> = z.infer<(typeof SAVEACTION_ACTION_SCHEMAS)[T]>;

/** Any action: the per-type schemas run afterwards, so one bad action doesn't hide the others. */
export const anyActionSchema = z.looseObject({ type: z.string() });

export const saveActionRecordingSchema = z.looseObject({
  id: optionalString,
  /** Schema version, "1.0.0" so far. */
  version: z.union([z.string(), z.number()]).nullish(),
  testName: optionalString,
  url: optionalString,
  viewport: z.looseObject({ width: z.number(), height: z.number() }).nullish(),
  actions: z.array(z.unknown()),
  variables: z
    .array(
      z.looseObject({
        name: z.string(),
        fieldType: optionalString,
        description: optionalString,
        placeholder: optionalString,
      }),
    )
    .nullish(),
});
export type SaveActionRecording = z.infer<typeof saveActionRecordingSchema>;
