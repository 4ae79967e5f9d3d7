import type { SelectorCandidate, SelectorStrategy } from "../recording.ts";
import type { AlternativeSelector, LegacySelector, RankedSelector } from "./schema.ts";

/** Candidates kept per action: past a dozen, the tail is fallbacks that would never win. */
export const MAX_CANDIDATES = 12;
/** The canonical model's limit on one candidate's value. */
const MAX_VALUE_LENGTH = 4096;

/** How `selectors[].strategy` names map to canonical strategies. Others are dropped, with a warning. */
const RANKED_STRATEGIES: Readonly<Record<string, SelectorStrategy>> = {
  id: "id",
  name: "name",
  css: "css",
  xpath: "xpath",
  // The recorder already spells position as CSS: `div.list > :nth-child(2)`.
  position: "css",
  "text-content": "text",
  // CSS with Playwright's `:has-text()`, which the runner's CSS locator understands.
  "css-semantic": "css",
  "href-pattern": "href",
  "src-pattern": "src",
  "data-testid": "testid",
  dataTestId: "testid",
  testid: "testid",
  "aria-label": "aria-label",
  ariaLabel: "aria-label",
};

type LegacyKey =
  | "dataTestId"
  | "id"
  | "ariaLabel"
  | "name"
  | "css"
  | "xpath"
  | "xpathAbsolute"
  | "text"
  | "textContains";

/**
 * Legacy selector keys: canonical strategy and the confidence we give them. The recorder gives
 * none; these rank how stable each kind is (an id outlives a CSS path), and ≥ 80 makes the runner
 * insist on a unique match.
 */
const LEGACY_STRATEGIES: Readonly<Record<LegacyKey, { strategy: SelectorStrategy; confidence: number }>> = {
  dataTestId: { strategy: "testid", confidence: 95 },
  id: { strategy: "id", confidence: 90 },
  ariaLabel: { strategy: "aria-label", confidence: 85 },
  name: { strategy: "name", confidence: 80 },
  text: { strategy: "text", confidence: 70 },
  css: { strategy: "css", confidence: 60 },
  xpath: { strategy: "xpath", confidence: 55 },
  textContains: { strategy: "text-contains", confidence: 50 },
  xpathAbsolute: { strategy: "xpath", confidence: 30 },
};
const POSITION_CONFIDENCE = 20;
/** `alternativeSelectors` carry no confidence; they come last and must not demand a unique match. */
const ALTERNATIVE_CONFIDENCE = 40;

/** Order for legacy keys the `priority` list leaves out (older exports have no list at all). */
const DEFAULT_LEGACY_ORDER = [
  "dataTestId",
  "id",
  "ariaLabel",
  "name",
  "css",
  "text",
  "textContains",
  "xpath",
  "xpathAbsolute",
  "position",
] as const;

export interface CandidateSources {
  selector?: LegacySelector | null | undefined;
  selectors?: readonly RankedSelector[] | null | undefined;
  alternativeSelectors?: readonly AlternativeSelector[] | null | undefined;
}

export interface CandidateResult {
  candidates: SelectorCandidate[];
  /** `selectors[]` strategies with no canonical equivalent, dropped. */
  unknownStrategies: string[];
}

function isLegacyKey(key: string): key is LegacyKey {
  return Object.hasOwn(LEGACY_STRATEGIES, key);
}

/**
 * Canonical selector candidates for one SaveAction element, most trustworthy first:
 * data-testid candidates from anywhere (the recorder's surest selector, which SaveAction's own
 * runner never uses), then `selectors[]` by ascending priority, then the legacy `selector` object
 * in its `priority` order, then `alternativeSelectors`. Identical (strategy, value) pairs and
 * empty values are dropped; at most {@link MAX_CANDIDATES} remain.
 */
export function buildCandidates(sources: CandidateSources): CandidateResult {
  const ordered: SelectorCandidate[] = [];
  const unknownStrategies: string[] = [];

  const ranked = [...(sources.selectors ?? [])]
    .map((entry, position) => ({ entry, position }))
    // Stable: entries without a priority keep their place after the ranked ones.
    .sort(
      (a, b) =>
        (a.entry.priority ?? Number.POSITIVE_INFINITY) - (b.entry.priority ?? Number.POSITIVE_INFINITY) ||
        a.position - b.position,
    );
  for (const { entry } of ranked) {
    const strategy = RANKED_STRATEGIES[entry.strategy];
    if (strategy === undefined) {
      if (!unknownStrategies.includes(entry.strategy)) unknownStrategies.push(entry.strategy);
      continue;
    }
    ordered.push(candidate(strategy, entry.value, clampConfidence(entry.confidence)));
  }

  const legacy = sources.selector;
  if (legacy) {
    for (const key of legacyOrder(legacy)) {
      if (key === "position") {
        const position = legacy.position;
        if (position && position.parent.trim() !== "") {
          // The recorder's index is 0-based among all children; :nth-child counts from 1.
          ordered.push(candidate("css", `${position.parent} > :nth-child(${position.index + 1})`, POSITION_CONFIDENCE));
        }
        continue;
      }
      const value = legacy[key];
      if (typeof value !== "string") continue;
      const { strategy, confidence } = LEGACY_STRATEGIES[key];
      ordered.push(candidate(strategy, value, confidence));
    }
  }

  const alternatives = [...(sources.alternativeSelectors ?? [])].sort(
    (a, b) => (a.priority ?? Number.POSITIVE_INFINITY) - (b.priority ?? Number.POSITIVE_INFINITY),
  );
  for (const alternative of alternatives) {
    if (alternative.dataAttribute) ordered.push(candidate("css", alternative.dataAttribute, ALTERNATIVE_CONFIDENCE));
    if (alternative.ariaLabel) ordered.push(candidate("aria-label", alternative.ariaLabel, ALTERNATIVE_CONFIDENCE));
    if (alternative.css) ordered.push(candidate("css", alternative.css, ALTERNATIVE_CONFIDENCE));
    if (alternative.text) ordered.push(candidate("text", alternative.text, ALTERNATIVE_CONFIDENCE));
    if (alternative.xpath) ordered.push(candidate("xpath", alternative.xpath, ALTERNATIVE_CONFIDENCE));
  }

  const usable = ordered.filter((c) => c.value.trim() !== "" && c.value.length <= MAX_VALUE_LENGTH);
  const testIdsFirst = [
    ...usable.filter((c) => c.strategy === "testid"),
    ...usable.filter((c) => c.strategy !== "testid"),
  ];
  const seen = new Set<string>();
  const candidates: SelectorCandidate[] = [];
  for (const c of testIdsFirst) {
    const key = `${c.strategy}\u0000${c.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    candidates.push(c);
    if (candidates.length === MAX_CANDIDATES) break;
  }
  return { candidates, unknownStrategies };
}

function candidate(strategy: SelectorStrategy, value: string, confidence: number | undefined): SelectorCandidate {
  return confidence === undefined ? { strategy, value } : { strategy, value, confidence };
}

function clampConfidence(value: number | null | undefined): number | undefined {
  if (value === null || value === undefined || !Number.isFinite(value)) return undefined;
  return Math.min(100, Math.max(0, value));
}

/** The legacy keys present, in the recorder's `priority` order, then the ones it left out. */
function legacyOrder(legacy: LegacySelector): Array<LegacyKey | "position"> {
  const order: Array<LegacyKey | "position"> = [];
  const add = (key: string): void => {
    if (key !== "position" && !isLegacyKey(key)) return;
    if (order.includes(key)) return;
    order.push(key);
  };
  for (const key of legacy.priority ?? []) add(key);
  for (const key of DEFAULT_LEGACY_ORDER) add(key);
  return order;
}

/**
 * A key that is equal for two recorded actions exactly when every strategy the recorder wrote
 * for them agrees, so two captures of one element match while look-alike siblings (same CSS
 * path, other absolute XPath) do not. Volatile metadata (`validation`, `fallback`) is ignored.
 */
export function elementKey(sources: CandidateSources): string | undefined {
  const legacy = sources.selector;
  if (legacy) {
    const { id, dataTestId, ariaLabel, name, css, xpath, xpathAbsolute, text, textContains, position } = legacy;
    return JSON.stringify([id, dataTestId, ariaLabel, name, css, xpath, xpathAbsolute, text, textContains, position]);
  }
  if (sources.selectors && sources.selectors.length > 0) {
    return JSON.stringify(sources.selectors.map((s) => [s.strategy, s.value]));
  }
  return undefined;
}

/**
 * Tag names (lower case) of the element's ancestors, as far as its recorded selectors show them.
 * The recorder keeps no other trace of them, and a click on a `<span>` inside a button or an
 * `<img>` inside a link does what a click on the button or the link does. The absolute XPath
 * names every ancestor (`/html/body[1]/…/a[1]/img[1]`), a CSS path the nearest few
 * (`form#search > button > span`), `position` the parent. A selector that doesn't spell a plain
 * path (sibling combinators, XPath axes, unions) tells nothing, rather than something wrong.
 */
export function ancestorTags(sources: CandidateSources): Set<string> {
  const tags = new Set<string>();
  const addAll = (found: string[] | undefined): void => {
    for (const tag of found ?? []) tags.add(tag);
  };
  const legacy = sources.selector;
  if (legacy) {
    if (legacy.xpathAbsolute) addAll(xpathAncestorTags(legacy.xpathAbsolute));
    if (legacy.xpath) addAll(xpathAncestorTags(legacy.xpath));
    if (legacy.css) addAll(cssAncestorTags(legacy.css));
    // The parent itself is an ancestor: `a.card-link` → a.
    const parent = legacy.position?.parent;
    if (parent) addAll(cssAncestorTags(`${parent} > *`));
  }
  for (const { strategy, value } of sources.selectors ?? []) {
    // `position` is already CSS: `a.card-link > :nth-child(1)`.
    if (strategy === "css" || strategy === "position") addAll(cssAncestorTags(value));
    else if (strategy === "xpath") addAll(xpathAncestorTags(value));
  }
  return tags;
}

const ELEMENT_NAME = /^([A-Za-z][A-Za-z0-9-]*)/;

/** Splits at separator characters outside brackets, parentheses and quotes: parts, and the separator run after each. */
function splitTopLevel(text: string, isSeparator: (char: string) => boolean): Array<{ part: string; after: string }> {
  const pieces: Array<{ part: string; after: string }> = [];
  let part = "";
  let after = "";
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] ?? "";
    if (quote !== undefined) {
      part += char;
      if (char === quote) quote = undefined;
      continue;
    }
    if (char === "\\") {
      part += char + (text[i + 1] ?? "");
      i++;
      continue;
    }
    if (depth === 0 && isSeparator(char)) {
      after += char;
      continue;
    }
    if (after !== "") {
      pieces.push({ part, after });
      part = "";
      after = "";
    }
    if (char === '"' || char === "'") quote = char;
    else if (char === "[" || char === "(") depth++;
    else if (char === "]" || char === ")") depth = Math.max(0, depth - 1);
    part += char;
  }
  pieces.push({ part, after });
  return pieces;
}

/** `div.a > a.card span` → ["div", "a"]: the compounds a child or descendant combinator follows. */
function cssAncestorTags(css: string): string[] | undefined {
  const pieces = splitTopLevel(css.trim(), (char) => /[\s>+~,]/.test(char));
  const tags: string[] = [];
  for (const { part, after } of pieces.slice(0, -1)) {
    if (after.includes(",")) return undefined;
    // `label + input`: the label is a sibling, not an ancestor.
    if (after.includes("+") || after.includes("~")) continue;
    const tag = ELEMENT_NAME.exec(part)?.[1];
    if (tag !== undefined) tags.push(tag.toLowerCase());
  }
  return tags;
}

/** `/html/body[1]/a[1]/img[1]` → ["html", "body", "a"]; undefined for a path with axes or unions. */
function xpathAncestorTags(xpath: string): string[] | undefined {
  const steps = splitTopLevel(xpath.trim(), (char) => char === "/" || char === "|").filter(({ part }) => part !== "");
  const tags: string[] = [];
  for (const { part, after } of steps) {
    if (after.includes("|") || part.includes("::") || part.startsWith(".") || part.startsWith("@")) return undefined;
  }
  for (const { part } of steps.slice(0, -1)) {
    const tag = ELEMENT_NAME.exec(part)?.[1];
    if (tag !== undefined) tags.push(tag.toLowerCase());
  }
  return tags;
}
