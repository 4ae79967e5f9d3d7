import { z } from "zod";

/**
 * The canonical recording model: what the runner executes and what users may write by hand.
 * Documented in docs/recording-format.md; the API publishes it as JSON Schema.
 */

export const SELECTOR_STRATEGIES = ["css", "testid", "id", "text", "xpath", "aria-label", "name", "role"] as const;
export type SelectorStrategy = (typeof SELECTOR_STRATEGIES)[number];

export const selectorCandidateSchema = z.object({
  strategy: z.enum(SELECTOR_STRATEGIES),
  value: z.string().min(1).max(4096),
});
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
};

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
  button: z.enum(["left", "right", "middle"]).optional(),
  clickCount: z.number().int().min(1).max(3).optional(),
});

export const inputActionSchema = z.object({
  ...actionBase,
  type: z.literal("input"),
  selector: selectorSchema,
  value: z.string().max(65_536),
  /** Marks the value as a secret: it is redacted from stored results, events and logs. */
  sensitive: z.boolean().optional(),
});

export const keypressActionSchema = z.object({
  ...actionBase,
  type: z.literal("keypress"),
  /** A Playwright key name: `Enter`, `Tab`, `a`, `Control+a`, … */
  key: z.string().min(1).max(64),
  /** The element to focus first; without it the key goes to whatever has focus. */
  selector: selectorSchema.optional(),
});

export const selectActionSchema = z.object({
  ...actionBase,
  type: z.literal("select"),
  selector: selectorSchema,
  value: z.string().max(4096),
});

export const ASSERT_CHECKS = ["urlMatch", "urlContains", "elementVisible", "elementText", "containsText"] as const;
export type AssertCheck = (typeof ASSERT_CHECKS)[number];

export const assertActionSchema = z
  .object({
    ...actionBase,
    type: z.literal("assert"),
    /**
     * urlMatch: the URL equals `expected`; urlContains: the URL contains it; elementVisible: the
     * selector is visible; elementText: its text equals `expected` (trimmed); containsText: its
     * text (or the page's, without a selector) contains `expected`.
     */
    check: z.enum(ASSERT_CHECKS),
    selector: selectorSchema.optional(),
    expected: z.string().max(65_536).optional(),
  })
  .superRefine((action, ctx) => {
    const needsSelector = action.check === "elementVisible" || action.check === "elementText";
    if (needsSelector && action.selector === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["selector"],
        message: `a selector is required for check "${action.check}"`,
      });
    }
    if (action.check !== "elementVisible" && action.expected === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["expected"],
        message: `"expected" is required for check "${action.check}"`,
      });
    }
  });

export const ACTION_TYPES = ["navigate", "click", "input", "keypress", "select", "assert"] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export const actionSchema = z.discriminatedUnion("type", [
  navigateActionSchema,
  clickActionSchema,
  inputActionSchema,
  keypressActionSchema,
  selectActionSchema,
  assertActionSchema,
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
  actions: z.array(actionSchema).min(1).max(MAX_ACTIONS),
});
export type Recording = z.infer<typeof recordingSchema>;
export type RecordingInput = z.input<typeof recordingSchema>;

/** The id results use for an action: its own, or its 1-based position. */
export function actionKey(action: Action, index: number): string {
  return action.id ?? `a${index + 1}`;
}
