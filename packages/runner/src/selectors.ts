import {
  cssEscapeIdentifier,
  cssString,
  HIGH_CONFIDENCE,
  RunError,
  type Selector,
  type SelectorCandidate,
  type SelectorPart,
} from "@conveyor/core";
import type { Frame, FrameLocator, Locator, Page } from "playwright-core";
import { isBrowserGoneError } from "./classify.ts";
import { sleep } from "./sleep.ts";

// Re-exported: the runner's selectors and the exporters' escape CSS the same way.
export { cssEscapeIdentifier, cssString } from "@conveyor/core";

/** A string selector is CSS; candidate lists are used as they are. */
export function selectorCandidates(selector: Selector): SelectorCandidate[] {
  return typeof selector === "string" ? [{ strategy: "css", value: selector }] : selector;
}

/**
 * How results name one part of a candidate: `testid=login-button`, `css=#submit`; the strategies
 * that come from Chrome DevTools Recorder as it writes them: `aria/Submit[role="button"]`,
 * `pierce/#inner`.
 */
function describePart(part: SelectorPart): string {
  if (part.strategy === "aria" || part.strategy === "pierce") return `${part.strategy}/${part.value}`;
  return `${part.strategy}=${part.value}`;
}

/**
 * How results name a candidate: `testid=login-button`, `aria/Submit[role="button"]`; a chain (see
 * `within`) as its parts, outermost first, joined by `>>`: `css=my-app >> pierce/#inner`.
 */
export function describeCandidate(candidate: SelectorCandidate): string {
  return [...(candidate.within ?? []), candidate].map(describePart).join(" >> ");
}

/** How messages name a selector: a CSS string as written, candidates by their descriptions. */
export function describeSelector(selector: Selector): string {
  return typeof selector === "string" ? selector : selector.map(describeCandidate).join(" | ");
}

/**
 * How messages name an action's frame: its selector quoted (`"#frame"`), or its index path
 * (`[0, 1]`).
 */
export function describeFrame(frame: string | readonly number[]): string {
  return typeof frame === "string" ? JSON.stringify(frame) : `[${frame.join(", ")}]`;
}

/**
 * Where selectors are looked up: the page itself, or an iframe in it (a FrameLocator for a frame
 * given by selector, a Frame for one given by index path). All offer the same locating methods
 * (`locator`, `getByText`, …), so nothing below cares which it got.
 */
export type Scope = Page | FrameLocator | Frame;

/** What a part of a chain is looked up in: the scope, or the element the previous part found. */
type Searchable = Scope | Locator;

/**
 * Roles an element found by accessible name alone (`aria/Name`) may have: every ARIA role that
 * can carry a name. Chromium looks the name up in its accessibility tree whatever the role;
 * Playwright's name matching is by role, so the lookup asks each of these (roles that prohibit
 * naming, such as generic or paragraph, never have one to match).
 */
const NAMEABLE_ROLES = [
  "alert",
  "alertdialog",
  "application",
  "article",
  "banner",
  "blockquote",
  "button",
  "cell",
  "checkbox",
  "columnheader",
  "combobox",
  "complementary",
  "contentinfo",
  "dialog",
  "directory",
  "document",
  "feed",
  "figure",
  "form",
  "grid",
  "gridcell",
  "group",
  "heading",
  "img",
  "link",
  "list",
  "listbox",
  "listitem",
  "log",
  "main",
  "marquee",
  "math",
  "meter",
  "menu",
  "menubar",
  "menuitem",
  "menuitemcheckbox",
  "menuitemradio",
  "navigation",
  "note",
  "option",
  "progressbar",
  "radio",
  "radiogroup",
  "region",
  "row",
  "rowgroup",
  "rowheader",
  "scrollbar",
  "search",
  "searchbox",
  "separator",
  "slider",
  "spinbutton",
  "status",
  "switch",
  "tab",
  "table",
  "tablist",
  "tabpanel",
  "textbox",
  "timer",
  "toolbar",
  "tooltip",
  "tree",
  "treegrid",
  "treeitem",
] as const;

/** Role names Chromium's accessibility tree uses where ARIA's differ (`image` is ARIA 1.3's `img`). */
const CHROMIUM_ROLE_NAMES: Readonly<Record<string, string>> = { image: "img" };

/** What an `aria` value asks for: an accessible name, a role, or both. */
export interface AriaQuery {
  name?: string;
  role?: string;
}

/** `[role="button"]`, `[name='Submit']`: an attribute of Chrome DevTools Recorder's ARIA syntax. */
const ARIA_ATTRIBUTE = /\[\s*([\w-]+)\s*=\s*(["'])((?:\\.|(?!\2)[^\\])*)\2\s*\]/g;

/**
 * Parses an `aria` value as Puppeteer does (the syntax Chrome DevTools Recorder writes): `Name`,
 * `Name[role="button"]`, `[role="button"]`, `[name="Name"]`. Whitespace in the name is collapsed;
 * any other attribute makes the value invalid (thrown).
 */
export function parseAriaValue(value: string): AriaQuery {
  const query: AriaQuery = {};
  const rest = value.replace(ARIA_ATTRIBUTE, (_match, attribute: string, _quote: string, raw: string) => {
    const unescaped = raw.replace(/\\(.)/g, "$1");
    if (attribute === "role") query.role = unescaped.trim();
    else if (attribute === "name") query.name = normalizeSpace(unescaped);
    else throw new Error(`unknown ARIA attribute "${attribute}" (only name and role are supported)`);
    return "";
  });
  const name = normalizeSpace(rest);
  if (name !== "" && query.name === undefined) query.name = name;
  if (query.name === undefined && query.role === undefined) throw new Error("neither a name nor a role");
  return query;
}

function normalizeSpace(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** Playwright types roles as a union of ARIA role names; an unknown one simply matches nothing. */
type AriaRole = Parameters<Page["getByRole"]>[0];

/** Elements with the accessible name and role an `aria` value asks for, open shadow roots included. */
function ariaLocator(within: Searchable, value: string): Locator {
  const { name, role } = parseAriaValue(value);
  const options = name === undefined ? {} : { name, exact: true };
  if (role !== undefined) {
    const ariaRole = CHROMIUM_ROLE_NAMES[role.toLowerCase()] ?? role.toLowerCase();
    return within.getByRole(ariaRole as AriaRole, options);
  }
  return NAMEABLE_ROLES.map((nameable) => within.getByRole(nameable, options)).reduce((a, b) => a.or(b));
}

/**
 * The Playwright locator for one candidate: its `within` parts in turn, outermost first, each
 * looked up inside what the previous one found (Playwright's locators search an element's open
 * shadow root along with its light DOM), then the candidate itself. Values are escaped, never
 * spliced into CSS raw. Throws when a value cannot be parsed (an `aria` value with an unknown
 * attribute).
 */
export function candidateLocator(scope: Scope, candidate: SelectorCandidate): Locator {
  let within: Searchable = scope;
  for (const part of candidate.within ?? []) within = partLocator(within, part);
  return partLocator(within, candidate);
}

function partLocator(scope: Searchable, part: SelectorPart): Locator {
  const { value } = part;
  switch (part.strategy) {
    case "css":
      return scope.locator(value);
    case "testid":
      return scope.locator(`[data-testid=${cssString(value)}]`);
    case "id":
      return scope.locator(`#${cssEscapeIdentifier(value)}`);
    case "text":
      return scope.getByText(value, { exact: true });
    case "text-contains":
      return scope.getByText(value);
    case "xpath":
      return scope.locator(`xpath=${value}`);
    case "aria-label":
      return scope.locator(`[aria-label=${cssString(value)}]`);
    case "name":
      return scope.locator(`[name=${cssString(value)}]`);
    case "role":
      return scope.getByRole(value as AriaRole);
    case "placeholder":
      return scope.locator(`[placeholder=${cssString(value)}]`);
    case "href":
      return scope.locator(`a[href*=${cssString(value)}]`);
    case "src":
      return scope.locator(`[src*=${cssString(value)}]`);
    case "aria":
      return ariaLocator(scope, value);
    case "pierce":
      // Playwright's CSS engine already matches inside open shadow roots, at any depth; `css=`
      // keeps a value such as `text=…` from being read as another engine.
      return scope.locator(`css=${value}`);
    default: {
      const unreachable: never = part.strategy;
      throw new RunError("permanent", `Unknown selector strategy ${String(unreachable)}`);
    }
  }
}

/** Whether a candidate must match exactly one element to be used (see HIGH_CONFIDENCE in core). */
export function needsUniqueMatch(candidate: SelectorCandidate): boolean {
  return candidate.confidence !== undefined && candidate.confidence >= HIGH_CONFIDENCE;
}

export interface ResolvedSelector {
  /** The element the winning candidate matches (its first match, for low-confidence candidates). */
  locator: Locator;
  /** The winning candidate, e.g. `testid=login-button`. */
  selectorUsed: string;
  /**
   * Every candidate checked, in order, winner included. A high-confidence candidate skipped for
   * matching several elements is annotated: `id=foo (3 matches, needs exactly 1)`.
   */
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
  /** Count only visible elements. Default: false (any attached element counts). */
  visible?: boolean;
  /** The frame `scope` stands for, as the recording wrote it; named in the failure message. Default: none. */
  frame?: string | readonly number[];
}

/** Pause between polls, in milliseconds: quick at first, for content that is nearly there. */
const POLL_INTERVALS_MS = [0, 50, 100, 250, 500];
/** Longest single wait in the page for a candidate to appear before counting again, in milliseconds. */
const MAX_APPEAR_WAIT_MS = 2_000;

/** What a candidate matched the last time it was checked. */
type Observation = { count: number } | { invalid: string };

/**
 * The first usable candidate: one matching exactly one element when its confidence is at least
 * HIGH_CONFIDENCE (a "sure" selector that now matches several has gone stale, and clicking the
 * first of them would act on the wrong element), else one matching at least one. Content may
 * still be loading, so candidates are checked again, in order, until one is usable or `timeoutMs`
 * passes; then a test_failure listing what each candidate matched. While none matches anything,
 * the wait happens in the page (any candidate appearing ends it at once), not as fixed sleeps.
 */
export async function resolveSelector(
  scope: Scope,
  selector: Selector,
  options: ResolveSelectorOptions,
): Promise<ResolvedSelector> {
  const candidates = selectorCandidates(selector);
  const deadline = options.deadline ?? Date.now() + options.timeoutMs;
  // Insertion order is the order candidates were first checked.
  const observed = new Map<string, { candidate: SelectorCandidate; last: Observation | null }>();
  const triedList = (): string[] =>
    [...observed].map(([description, { candidate, last }]) =>
      last !== null && "count" in last && last.count > 1 && needsUniqueMatch(candidate)
        ? `${description} (${last.count} matches, needs exactly 1)`
        : description,
    );
  const isInvalid = (description: string): boolean => {
    const last = observed.get(description)?.last;
    return last != null && "invalid" in last;
  };

  for (let round = 0; ; round++) {
    for (const candidate of candidates) {
      const description = describeCandidate(candidate);
      if (isInvalid(description)) continue;
      const entry = observed.get(description) ?? { candidate, last: null };
      observed.set(description, entry);
      let locator: Locator | null = null;
      try {
        const all = candidateLocator(scope, candidate);
        locator = options.visible ? all.filter({ visible: true }) : all;
        entry.last = { count: await locator.count() };
      } catch (error) {
        if (isBrowserGoneError(error) || options.signal?.aborted) throw error;
        // A malformed selector (bad CSS or XPath, an unparsable aria value) can never match; let
        // the others have a go.
        entry.last = { invalid: firstLine(error) };
      }
      options.onTried?.(triedList());
      const count = "count" in entry.last ? entry.last.count : 0;
      const usable = needsUniqueMatch(candidate) ? count === 1 : count >= 1;
      if (usable && locator !== null) {
        return { locator: locator.first(), selectorUsed: description, selectorsTried: triedList() };
      }
    }
    const remaining = deadline - Date.now();
    const allInvalid = candidates.every((candidate) => isInvalid(describeCandidate(candidate)));
    if (remaining <= 0 || allInvalid || options.signal?.aborted) break;
    const nothingMatched = [...observed.values()].every(
      ({ last }) => last === null || !("count" in last) || last.count === 0,
    );
    if (nothingMatched) {
      // Nothing there yet (content still loading, the page still navigating): wait in the page for
      // any candidate to appear, which answers as soon as one does, instead of sleeping a fixed
      // interval. Bounded, so the candidates are counted again now and then whatever happens.
      const union = candidates
        .filter((candidate) => !isInvalid(describeCandidate(candidate)))
        .map((candidate) => candidateLocator(scope, candidate))
        .reduce((a, b) => a.or(b));
      try {
        await union.first().waitFor({
          state: options.visible ? "visible" : "attached",
          timeout: Math.max(1, Math.min(remaining, MAX_APPEAR_WAIT_MS)),
        });
      } catch (error) {
        if (isBrowserGoneError(error) || options.signal?.aborted) throw error;
        // Timed out (or the page navigated meanwhile): count again.
      }
      continue;
    }
    // Something matched but is not usable (a sure selector matching several): it takes a page
    // change to fix, so poll with a backoff.
    const interval = POLL_INTERVALS_MS[Math.min(round + 1, POLL_INTERVALS_MS.length - 1)] ?? 500;
    await sleep(Math.min(interval, remaining), options.signal);
  }

  const details = [...observed].map(([description, { candidate, last }]) => {
    if (last === null) return `${description} (not checked)`;
    if ("invalid" in last) return `${description} (invalid: ${last.invalid})`;
    const matches = `${last.count} ${options.visible ? "visible " : ""}match${last.count === 1 ? "" : "es"}`;
    return needsUniqueMatch(candidate) && last.count > 1
      ? `${description} (${matches}, needs exactly 1)`
      : `${description} (${matches})`;
  });
  const where = options.frame === undefined ? "" : ` in frame ${describeFrame(options.frame)}`;
  throw new RunError(
    "test_failure",
    `No ${options.visible ? "visible " : ""}element matched selector(s): ${describeSelector(selector)}${where} within ${options.timeoutMs} ms; tried: ${details.join(", ")}`,
  );
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n", 1)[0] ?? message;
}

/** Separates nested frames in an action's `frame`: outermost first. */
export const FRAME_SEPARATOR = " >>> ";

/**
 * Where an action with `frame` (a string) looks for elements: each iframe selector in turn,
 * outermost first. A frame that is not there yet is waited for by the locators built on it.
 */
export function frameScope(page: Page, frame: string | undefined): Scope {
  if (frame === undefined) return page;
  let scope: Page | FrameLocator = page;
  for (const part of frame.split(FRAME_SEPARATOR)) {
    const selector = part.trim();
    if (selector !== "") scope = scope.frameLocator(selector);
  }
  return scope;
}

/**
 * The frame at an index path (`[0, 1]`: the second child frame of the top frame's first child
 * frame), as Chrome DevTools Recorder records frames: child frames in the order they were
 * attached, as Chromium and Playwright list them. A frame not there yet (the page still loading
 * its iframes) is waited for until `deadline`; then a test_failure says where the path ended.
 * `[]` is the top frame.
 */
export async function frameAtPath(
  page: Page,
  path: readonly number[],
  options: { timeoutMs: number; deadline: number; signal?: AbortSignal },
): Promise<Frame> {
  for (let round = 0; ; round++) {
    let frame = page.mainFrame();
    let missing: { at: number; children: number } | null = null;
    for (const [depth, index] of path.entries()) {
      const children = frame.childFrames();
      const child = children[index];
      if (child === undefined) {
        missing = { at: depth, children: children.length };
        break;
      }
      frame = child;
    }
    if (missing === null) return frame;
    const remaining = options.deadline - Date.now();
    if (remaining <= 0 || options.signal?.aborted || page.isClosed()) {
      const parent = missing.at === 0 ? "the top frame" : `frame ${describeFrame(path.slice(0, missing.at))}`;
      const count = `${missing.children} child frame${missing.children === 1 ? "" : "s"}`;
      throw new RunError(
        "test_failure",
        `No frame ${describeFrame(path)} within ${options.timeoutMs} ms: ${parent} has ${count}`,
      );
    }
    const interval = POLL_INTERVALS_MS[Math.min(round + 1, POLL_INTERVALS_MS.length - 1)] ?? 500;
    await sleep(Math.min(interval, remaining), options.signal);
  }
}
