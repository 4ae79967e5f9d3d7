import type { SelectorCandidate, SelectorPart, SelectorStrategy } from "../recording.ts";
import type { ChromeSelectors } from "./schema.ts";

/** Longest selector value the canonical model takes. */
const MAX_VALUE_LENGTH = 4096;
/** Most parts a chain may have before its last: the canonical `within` limit. */
const MAX_WITHIN = 16;
/** Most candidates a canonical selector may have. */
const MAX_CANDIDATES = 32;

/**
 * The Recorder's prefixes (puppeteer/replay `getSelectorType`) and the strategy each becomes.
 * `text/` matches elements whose text contains the value (Puppeteer's `::-p-text`), hence
 * text-contains. Anything without a prefix is CSS.
 */
const PREFIXES: readonly [prefix: string, strategy: SelectorStrategy][] = [
  ["aria/", "aria"],
  ["text/", "text-contains"],
  ["xpath/", "xpath"],
  ["pierce/", "pierce"],
];

export interface ChromeCandidates {
  candidates: SelectorCandidate[];
  /** Alternatives left out, and why: for the step's warnings. */
  problems: string[];
}

/**
 * A step's `selectors` as canonical candidates, in the Recorder's order: one per alternative. A
 * chain (an array of several strings) becomes its last part, looked up `within` the others.
 * With `selectorAttribute: "data-testid"`, a CSS alternative that is exactly
 * `[data-testid="value"]` becomes a `testid` candidate; every other alternative keeps its kind.
 */
export function chromeCandidates(selectors: ChromeSelectors, selectorAttribute?: string): ChromeCandidates {
  const alternatives = typeof selectors === "string" ? [selectors] : selectors;
  const candidates: SelectorCandidate[] = [];
  const problems: string[] = [];
  alternatives.forEach((alternative, position) => {
    const parts = typeof alternative === "string" ? [alternative] : alternative;
    const label = `selector ${position + 1}`;
    if (parts.length === 0) {
      problems.push(`${label} is an empty chain; left out`);
      return;
    }
    if (parts.length > MAX_WITHIN + 1) {
      problems.push(`${label} is a chain of ${parts.length} parts, more than ${MAX_WITHIN + 1}; left out`);
      return;
    }
    const parsed: SelectorPart[] = [];
    for (const part of parts) {
      const one = parsePart(part, selectorAttribute);
      if (typeof one === "string") {
        problems.push(`${label} ${JSON.stringify(truncate(part))}: ${one}; left out`);
        return;
      }
      parsed.push(one);
    }
    const last = parsed.pop();
    if (last === undefined) return;
    if (candidates.length >= MAX_CANDIDATES) {
      problems.push(`${label}: more than ${MAX_CANDIDATES} alternatives; left out`);
      return;
    }
    candidates.push(parsed.length === 0 ? last : { ...last, within: parsed });
  });
  return { candidates, problems };
}

/** One selector string as a strategy and value, or why it can't be used. */
export function parsePart(part: string, selectorAttribute?: string): SelectorPart | string {
  for (const [prefix, strategy] of PREFIXES) {
    if (part.startsWith(prefix)) return checked(strategy, part.slice(prefix.length));
  }
  const testid = selectorAttribute === "data-testid" ? attributeValue(part, "data-testid") : undefined;
  if (testid !== undefined) return checked("testid", testid);
  return checked("css", part.trim());
}

function checked(strategy: SelectorStrategy, value: string): SelectorPart | string {
  if (value.trim() === "") return "empty";
  if (value.length > MAX_VALUE_LENGTH) return `longer than ${MAX_VALUE_LENGTH} characters`;
  return { strategy, value };
}

/**
 * The value of `[name="value"]`, `[name='value']` or `[name=value]` when that is the whole
 * selector; the Recorder writes them for `selectorAttribute` (escaping `"` and `\` in values).
 */
export function attributeValue(selector: string, name: string): string | undefined {
  const escaped = name.replace(/[-/\\^$*+?.()|[\]{}]/g, "\\$&");
  const match = new RegExp(`^\\[${escaped}=(?:"((?:[^"\\\\]|\\\\.)*)"|'((?:[^'\\\\]|\\\\.)*)'|([\\w-]+))\\]$`).exec(
    selector.trim(),
  );
  if (!match) return undefined;
  const raw = match[1] ?? match[2] ?? match[3] ?? "";
  return raw.replace(/\\(.)/g, "$1");
}

/**
 * Whether the selectors say the element is a checkbox or a radio button: a CSS alternative with
 * `[type=checkbox]` / `[type=radio]`, or an ARIA one with that role. Every alternative points at
 * the same element, so one that says so is enough; alternatives that disagree say nothing.
 */
export function toggleKind(candidates: readonly SelectorCandidate[]): "checkbox" | "radio" | undefined {
  const kinds = new Set<"checkbox" | "radio">();
  for (const { strategy, value } of candidates) {
    const text = value.toLowerCase();
    if (strategy === "css" || strategy === "pierce") {
      const type = /\[type=["']?(checkbox|radio)["']?\]/.exec(text)?.[1];
      if (type === "checkbox" || type === "radio") kinds.add(type);
    } else if (strategy === "aria") {
      const role = /\[role=["']?(checkbox|switch|menuitemcheckbox|radio|menuitemradio)["']?\]/.exec(text)?.[1];
      if (role === "radio" || role === "menuitemradio") kinds.add("radio");
      else if (role !== undefined) kinds.add("checkbox");
    }
  }
  return kinds.size === 1 ? [...kinds][0] : undefined;
}

/**
 * Whether the selectors name a password or other secret field: a `type=password` attribute, or
 * "password" (also passwort, passcode, passphrase, pwd, pin, otp, one-time-code) in any alternative (`#password`,
 * `[data-test=password]`, `aria/Password`). Used to mark the typed value sensitive.
 */
export function looksSecret(candidates: readonly SelectorCandidate[]): boolean {
  return candidates.some((candidate) => SECRET_FIELD.test(candidate.value));
}

const SECRET_FIELD = /pass(?:word|wort|code|phrase)|\bpwd\b|\bpin\b|\botp\b|one-time-code/i;

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 77)}…` : value;
}
