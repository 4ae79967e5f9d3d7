import { RunError, type Selector, type SelectorCandidate } from "@conveyor/core";
import type { Locator, Page } from "playwright-core";
import { isBrowserGoneError } from "./classify.ts";
import { sleep } from "./sleep.ts";

/**
 * Serializes `value` as an identifier, like the browser's `CSS.escape()` (CSSOM spec §2.1), so an
 * id such as `a:b.c` or `1st` can be used after `#`.
 */
export function cssEscapeIdentifier(value: string): string {
  let result = "";
  const firstCode = value.charCodeAt(0);
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const char = value.charAt(i);
    if (code === 0x0000) {
      result += "\uFFFD";
    } else if (
      (code >= 0x0001 && code <= 0x001f) ||
      code === 0x007f ||
      (i === 0 && code >= 0x0030 && code <= 0x0039) ||
      (i === 1 && code >= 0x0030 && code <= 0x0039 && firstCode === 0x002d)
    ) {
      result += `\\${code.toString(16)} `;
    } else if (i === 0 && value.length === 1 && code === 0x002d) {
      result += `\\${char}`;
    } else if (
      code >= 0x0080 ||
      code === 0x002d ||
      code === 0x005f ||
      (code >= 0x0030 && code <= 0x0039) ||
      (code >= 0x0041 && code <= 0x005a) ||
      (code >= 0x0061 && code <= 0x007a)
    ) {
      result += char;
    } else {
      result += `\\${char}`;
    }
  }
  return result;
}

/**
 * `value` as a double-quoted CSS string, for attribute selectors: `[name=${cssString(v)}]`.
 * Backslashes, quotes and line breaks are escaped, so no value can end the string early.
 */
export function cssString(value: string): string {
  let escaped = "";
  for (const char of value) {
    const code = char.charCodeAt(0);
    if (char === "\\" || char === '"') escaped += `\\${char}`;
    else if (code === 0) escaped += "\uFFFD";
    else if (code < 0x20 || code === 0x7f) escaped += `\\${code.toString(16)} `;
    else escaped += char;
  }
  return `"${escaped}"`;
}

/** A string selector is CSS; candidate lists are used as they are. */
export function selectorCandidates(selector: Selector): SelectorCandidate[] {
  return typeof selector === "string" ? [{ strategy: "css", value: selector }] : selector;
}

/** How results name a candidate: `testid=login-button`, `css=#submit`. */
export function describeCandidate(candidate: SelectorCandidate): string {
  return `${candidate.strategy}=${candidate.value}`;
}

/** How messages name a selector: a CSS string as written, candidates by their descriptions. */
export function describeSelector(selector: Selector): string {
  return typeof selector === "string" ? selector : selector.map(describeCandidate).join(" | ");
}

/** The Playwright locator for one candidate. Values are escaped, never spliced into CSS raw. */
export function candidateLocator(page: Page, candidate: SelectorCandidate): Locator {
  const { value } = candidate;
  switch (candidate.strategy) {
    case "css":
      return page.locator(value);
    case "testid":
      return page.locator(`[data-testid=${cssString(value)}]`);
    case "id":
      return page.locator(`#${cssEscapeIdentifier(value)}`);
    case "text":
      return page.getByText(value, { exact: true });
    case "xpath":
      return page.locator(`xpath=${value}`);
    case "aria-label":
      return page.locator(`[aria-label=${cssString(value)}]`);
    case "name":
      return page.locator(`[name=${cssString(value)}]`);
    case "role":
      // Playwright types roles as a union of ARIA role names; an unknown one simply matches nothing.
      return page.getByRole(value as Parameters<Page["getByRole"]>[0]);
    default: {
      const unreachable: never = candidate.strategy;
      throw new RunError("permanent", `Unknown selector strategy ${String(unreachable)}`);
    }
  }
}

export interface ResolvedSelector {
  /** The first element the winning candidate matches. */
  locator: Locator;
  /** The winning candidate, e.g. `testid=login-button`. */
  selectorUsed: string;
  /** Every candidate checked, in order, winner included. */
  selectorsTried: string[];
}

export interface ResolveSelectorOptions {
  /** How long to wait for any candidate to match, in milliseconds; named in the failure message. */
  timeoutMs: number;
  /** When to give up, as epoch milliseconds, if the budget started earlier. Default: now + timeoutMs. */
  deadline?: number;
  /** Stops the wait early (the caller then sees the page closed). */
  signal?: AbortSignal;
  /** Told which candidates were tried so far, also when resolution fails. */
  onTried?: (selectorsTried: string[]) => void;
}

/** Pause between polls, in milliseconds: quick at first, for content that is nearly there. */
const POLL_INTERVALS_MS = [0, 50, 100, 250, 500];

/**
 * The first candidate that matches at least one element. Content may still be loading, so
 * candidates are polled, in order, until one matches or `timeoutMs` passes; then a test_failure.
 */
export async function resolveSelector(
  page: Page,
  selector: Selector,
  options: ResolveSelectorOptions,
): Promise<ResolvedSelector> {
  const candidates = selectorCandidates(selector);
  const deadline = options.deadline ?? Date.now() + options.timeoutMs;
  const tried: string[] = [];
  const invalid = new Map<string, string>();

  for (let round = 0; ; round++) {
    for (const candidate of candidates) {
      const description = describeCandidate(candidate);
      if (invalid.has(description)) continue;
      if (!tried.includes(description)) {
        tried.push(description);
        options.onTried?.([...tried]);
      }
      const locator = candidateLocator(page, candidate);
      let count: number;
      try {
        count = await locator.count();
      } catch (error) {
        if (isBrowserGoneError(error) || options.signal?.aborted) throw error;
        // A malformed selector (bad CSS or XPath) can never match; let the others have a go.
        invalid.set(description, firstLine(error));
        continue;
      }
      if (count >= 1) return { locator: locator.first(), selectorUsed: description, selectorsTried: [...tried] };
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0 || invalid.size === candidates.length || options.signal?.aborted) break;
    const interval = POLL_INTERVALS_MS[Math.min(round + 1, POLL_INTERVALS_MS.length - 1)] ?? 500;
    await sleep(Math.min(interval, remaining), options.signal);
  }

  const problems = [...invalid].map(([description, message]) => `; ${description} is invalid: ${message}`).join("");
  throw new RunError(
    "test_failure",
    `No element matched selector(s): ${describeSelector(selector)} (tried: ${tried.join(", ")} for ${options.timeoutMs} ms${problems})`,
  );
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n", 1)[0] ?? message;
}
