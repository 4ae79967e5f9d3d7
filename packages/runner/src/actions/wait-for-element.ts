import { type ActionOf, RunError, type SelectorCandidate } from "@conveyor/core";
import { isBrowserGoneError } from "../classify.ts";
import {
  candidateLocator,
  describeCandidate,
  describeFrame,
  describeSelector,
  selectorCandidates,
} from "../selectors.ts";
import { sleep } from "../sleep.ts";
import type { ActionExecutor } from "./types.ts";

const POLL_INTERVALS_MS = [0, 50, 100, 250, 500];
/** Longest JSON of expected properties or attributes quoted in a failure message, in characters. */
const MAX_QUOTED_LENGTH = 300;

type Operator = NonNullable<ActionOf<"waitForElement">["operator"]>;

const COMPARE: Record<Operator, (found: number, wanted: number) => boolean> = {
  ">=": (found, wanted) => found >= wanted,
  "==": (found, wanted) => found === wanted,
  "<=": (found, wanted) => found <= wanted,
};

const IN_WORDS: Record<Operator, string> = { ">=": "at least", "==": "exactly", "<=": "at most" };

/** What, besides visibility, makes an element count. */
interface Filters {
  properties: Record<string, unknown> | null;
  attributes: Record<string, string> | null;
}

/** What the last look found: the candidate counted (if any matched) and how many elements qualified. */
interface Look {
  /** The candidate whose elements were counted: the first that matched any element. */
  used: SelectorCandidate | null;
  /** Elements of `used` that qualify (visibility, properties, attributes). */
  count: number;
}

/**
 * Waits until the number of qualifying elements compares with `count` (default 1) as `operator`
 * (default `>=`) says — Chrome DevTools Recorder's waitForElement. The elements are those of the
 * first candidate that matches any element (none: 0, so `count: 0` with `==` waits for an element
 * to go); of those, only the ones that are visible (`visible: true`) or hidden (`false`), whose
 * DOM properties deep-equal the expected JSON (objects by the fields given) and whose attributes
 * have exactly the given values count. Polled until it holds or the budget ends.
 */
export const waitForElement: ActionExecutor<"waitForElement"> = async (ctx) => {
  const { action, scope, deadline, signal, timeoutMs } = ctx;
  const operator = action.operator ?? ">=";
  const wanted = action.count ?? 1;
  const candidates = selectorCandidates(action.selector);
  const invalid = new Map<string, string>();
  const tried = new Set<string>();
  const filters: Filters = {
    properties: (action.properties as Record<string, unknown> | undefined) ?? null,
    attributes: action.attributes ?? null,
  };

  const look = async (): Promise<Look> => {
    for (const candidate of candidates) {
      const description = describeCandidate(candidate);
      if (invalid.has(description)) continue;
      tried.add(description);
      try {
        const all = candidateLocator(scope, candidate);
        if ((await all.count()) === 0) continue;
        const shown = action.visible === undefined ? all : all.filter({ visible: action.visible });
        const count = await shown.evaluateAll(countQualifying, filters);
        return { used: candidate, count };
      } catch (error) {
        if (isBrowserGoneError(error) || signal.aborted) throw error;
        // A malformed selector can never match; the page mid-navigation is counted again.
        if (/Execution context was destroyed|navigat/i.test(String(error))) return { used: null, count: 0 };
        invalid.set(description, firstLine(error));
      }
    }
    return { used: null, count: 0 };
  };
  const record = (last: Look) =>
    ctx.recordSelectors({
      ...(last.used === null ? {} : { selectorUsed: describeCandidate(last.used) }),
      selectorsTried: [...tried],
    });

  let last: Look = { used: null, count: 0 };
  for (let round = 0; ; round++) {
    last = await look();
    record(last);
    if (COMPARE[operator](last.count, wanted)) return;
    const remaining = deadline - Date.now();
    if (remaining <= 0 || signal.aborted || invalid.size === candidates.length) break;
    const interval = POLL_INTERVALS_MS[Math.min(round + 1, POLL_INTERVALS_MS.length - 1)] ?? 500;
    await sleep(Math.min(interval, remaining), signal);
  }

  const qualifiers = [
    action.visible === undefined ? null : action.visible ? "visible" : "hidden",
    action.properties === undefined ? null : `with properties ${quoteJson(action.properties)}`,
    action.attributes === undefined ? null : `with attributes ${quoteJson(action.attributes)}`,
  ].filter((part) => part !== null);
  const what = `${IN_WORDS[operator]} ${wanted} element${wanted === 1 ? "" : "s"}${qualifiers.length === 0 ? "" : ` (${qualifiers.join(", ")})`}`;
  const selector = describeSelector(action.selector);
  const where = ctx.frame === undefined ? "" : ` in frame ${describeFrame(ctx.frame)}`;
  const found =
    last.used === null ? "none matched" : `${describeCandidate(last.used)} had ${last.count} that qualified`;
  const broken = [...invalid].map(([description, reason]) => `${description} (invalid: ${reason})`);
  throw new RunError(
    "test_failure",
    `Expected ${what} matching ${selector}${where} within ${timeoutMs} ms, but ${found}${broken.length === 0 ? "" : `; ${broken.join(", ")}`}`,
  );
};

/**
 * Runs in the page: how many of `elements` have the expected properties (deep-equal as JSON,
 * objects compared by the fields expected) and attributes (exact strings).
 */
function countQualifying(elements: Element[], filters: Filters): number {
  const matches = (expected: unknown, actual: unknown): boolean => {
    if (expected === null || typeof expected !== "object") return expected === actual;
    if (actual === null || (typeof actual !== "object" && typeof actual !== "function")) return false;
    if (Array.isArray(expected)) {
      const list = Array.from(actual as ArrayLike<unknown>);
      return list.length === expected.length && expected.every((item, index) => matches(item, list[index]));
    }
    return Object.entries(expected).every(([key, value]) => matches(value, (actual as Record<string, unknown>)[key]));
  };
  return elements.filter((element) => {
    for (const [name, value] of Object.entries(filters.attributes ?? {})) {
      if (element.getAttribute(name) !== value) return false;
    }
    for (const [name, value] of Object.entries(filters.properties ?? {})) {
      if (!matches(value, (element as unknown as Record<string, unknown>)[name])) return false;
    }
    return true;
  }).length;
}

function quoteJson(value: unknown): string {
  const json = JSON.stringify(value);
  return json.length > MAX_QUOTED_LENGTH ? `${json.slice(0, MAX_QUOTED_LENGTH)}…` : json;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n", 1)[0] ?? message;
}
