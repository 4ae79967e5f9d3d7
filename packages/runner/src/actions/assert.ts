import { type ActionOf, RunError, type Selector } from "@conveyor/core";
import type { Locator } from "playwright-core";
import { isBrowserGoneError } from "../classify.ts";
import { describeFrame } from "../selectors.ts";
import { sleep } from "../sleep.ts";
import type { ActionContext, ActionExecutor } from "./types.ts";

/** Longest actual value quoted in a failure message, in characters. */
const MAX_QUOTED_LENGTH = 300;
const POLL_INTERVALS_MS = [0, 50, 100, 250, 500];

/**
 * Checks are polled until they hold or the action's budget runs out, so a page that gets there a
 * little late still passes. A failure says what was expected and what was there instead.
 */
export const assert: ActionExecutor<"assert"> = async (ctx) => {
  const { action, page, scope } = ctx;
  switch (action.check) {
    case "urlMatch": {
      const expected = requireExpected(action);
      if (!(await waitForUrl(ctx, (url) => url === expected))) {
        fail(`Expected URL to be ${quote(expected)} but was ${quote(page.url())}`);
      }
      return;
    }
    case "urlContains": {
      const expected = requireExpected(action);
      if (!(await waitForUrl(ctx, (url) => url.includes(expected)))) {
        fail(`Expected URL to contain ${quote(expected)} but was ${quote(page.url())}`);
      }
      return;
    }
    case "elementVisible": {
      const selector = requireSelector(action);
      const { locator, selectorUsed } = await ctx.resolve(selector);
      const result = await poll(
        ctx,
        () => locator.isVisible(),
        (visible) => visible,
      );
      if (!result.passed) fail(`Expected ${label(selector, selectorUsed)} to be visible but it was hidden`);
      return;
    }
    case "elementText": {
      const selector = requireSelector(action);
      const expected = requireExpected(action);
      const { locator, selectorUsed } = await ctx.resolve(selector);
      const result = await poll(
        ctx,
        (timeout) => textOf(locator, timeout),
        (text) => normalize(text) === normalize(expected),
      );
      if (!result.passed) {
        fail(`Expected text of ${label(selector, selectorUsed)} to be ${quote(expected)} but was ${actual(result)}`);
      }
      return;
    }
    case "containsText": {
      const expected = requireExpected(action);
      if (action.selector === undefined) {
        const result = await poll(
          ctx,
          // biome-ignore lint/performance/useDomNodeTextContent: rendered text is what a user sees (no script or style contents)
          (timeout) => scope.locator("body").innerText({ timeout }),
          (text) => normalize(text).includes(normalize(expected)),
        );
        if (!result.passed)
          fail(
            `Expected ${ctx.frame === undefined ? "the page" : `frame ${describeFrame(ctx.frame)}`} to contain ${quote(expected)} but its text was ${actual(result)}`,
          );
        return;
      }
      const { locator, selectorUsed } = await ctx.resolve(action.selector);
      const result = await poll(
        ctx,
        (timeout) => textOf(locator, timeout),
        (text) => normalize(text).includes(normalize(expected)),
      );
      if (!result.passed) {
        fail(
          `Expected text of ${label(action.selector, selectorUsed)} to contain ${quote(expected)} but was ${actual(result)}`,
        );
      }
      return;
    }
    case "elementHasValue": {
      const selector = requireSelector(action);
      const expected = requireExpected(action);
      const { locator, selectorUsed } = await ctx.resolve(selector);
      const result = await poll(
        ctx,
        (timeout) => locator.inputValue({ timeout }),
        (value) => value === expected,
      );
      if (!result.passed) {
        fail(
          `Expected value of ${label(selector, selectorUsed)} to be ${quote(expected)} but was ${actual(result, false)}`,
        );
      }
      return;
    }
    case "pageTitle": {
      const expected = requireExpected(action);
      const result = await poll(
        ctx,
        () => page.title(),
        (title) => normalize(title) === normalize(expected),
      );
      if (!result.passed) fail(`Expected the page title to be ${quote(expected)} but was ${actual(result)}`);
      return;
    }
    case "pageLoad": {
      // Read from the action's scope, so an action in a frame waits for that frame's document.
      const result = await poll(
        ctx,
        (timeout) => scope.locator(":root").evaluate((root) => root.ownerDocument.readyState, undefined, { timeout }),
        (state) => state === "complete",
      );
      if (!result.passed) fail(`Expected the page to finish loading but its readyState was ${actual(result)}`);
      return;
    }
    default: {
      const unreachable: never = action.check;
      throw new RunError("permanent", `Unknown assert check ${String(unreachable)}`);
    }
  }
};

interface PollResult<T> {
  passed: boolean;
  /** The last value read, if any read succeeded. */
  last: T | undefined;
  /** Why the last read failed, if it did. */
  error: unknown;
}

/**
 * How long the one last read may take when no read succeeded within the budget, ms. Generous: it
 * is spent only then, and on a loaded machine one evaluate can take over a second (with 1 s, a
 * loaded run reported an already loaded page as "unreadable").
 */
const LAST_READ_TIMEOUT_MS = 5_000;

/**
 * Reads until `holds` or the deadline; a failed read (page mid-navigation) just means "not yet".
 * `read` gets the time it may take, ms. When the budget ran out before any read succeeded (a
 * short budget on a slow page), one last read gets `LAST_READ_TIMEOUT_MS`, so the verdict and the
 * failure message rest on what the page shows rather than on "unreadable (timeout)".
 */
async function poll<T>(
  ctx: ActionContext<"assert">,
  read: (timeoutMs: number) => Promise<T>,
  holds: (value: T) => boolean,
): Promise<PollResult<T>> {
  let last: T | undefined;
  let error: unknown;
  let readOnce = false;
  for (let round = 0; ; round++) {
    try {
      last = await read(ctx.remainingMs());
      readOnce = true;
      error = undefined;
      if (holds(last)) return { passed: true, last, error };
    } catch (readError) {
      if (isBrowserGoneError(readError) || ctx.signal.aborted) throw readError;
      error = readError;
    }
    const remaining = ctx.deadline - Date.now();
    if (ctx.signal.aborted) return { passed: false, last, error };
    if (remaining <= 0) {
      if (readOnce) return { passed: false, last, error };
      try {
        last = await read(LAST_READ_TIMEOUT_MS);
        return { passed: holds(last), last, error: undefined };
      } catch (readError) {
        if (isBrowserGoneError(readError) || ctx.signal.aborted) throw readError;
        return { passed: false, last, error: readError };
      }
    }
    const interval = POLL_INTERVALS_MS[Math.min(round + 1, POLL_INTERVALS_MS.length - 1)] ?? 500;
    await sleep(Math.min(interval, remaining), ctx.signal);
  }
}

/**
 * Whether the page's URL (`page.url()`) satisfies `holds` now or starts to within the action's
 * budget. Event-driven: Playwright re-checks on every navigation (history API ones included) as
 * it is committed, so a URL reached by the click before is seen at once rather than at the next
 * poll.
 */
async function waitForUrl(ctx: ActionContext<"assert">, holds: (url: string) => boolean): Promise<boolean> {
  if (holds(ctx.page.url())) return true;
  try {
    await ctx.page.waitForURL(() => holds(ctx.page.url()), { timeout: ctx.remainingMs(), waitUntil: "commit" });
    return true;
  } catch (error) {
    if (isBrowserGoneError(error) || ctx.signal.aborted) throw error;
    return holds(ctx.page.url());
  }
}

async function textOf(locator: Locator, timeout: number): Promise<string> {
  return (await locator.textContent({ timeout })) ?? "";
}

/** Text is compared trimmed, with runs of whitespace as one space (markup indentation is noise). */
function normalize(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function label(selector: Selector, selectorUsed: string): string {
  return quote(typeof selector === "string" ? selector : selectorUsed);
}

function quote(value: string): string {
  const shown = value.length > MAX_QUOTED_LENGTH ? `${value.slice(0, MAX_QUOTED_LENGTH)}…` : value;
  return JSON.stringify(shown);
}

function actual(result: PollResult<string>, collapseWhitespace = true): string {
  if (result.last !== undefined) return quote(collapseWhitespace ? normalize(result.last) : result.last);
  const reason = result.error instanceof Error ? result.error.message.split("\n", 1)[0] : String(result.error);
  return `unreadable (${reason})`;
}

function fail(message: string): never {
  throw new RunError("test_failure", message);
}

function requireExpected(action: ActionOf<"assert">): string {
  if (action.expected === undefined) {
    throw new RunError("permanent", `Assert check "${action.check}" needs an "expected" value`);
  }
  return action.expected;
}

function requireSelector(action: ActionOf<"assert">): Selector {
  // Core's schema demands a selector for elementVisible and elementText only; elementHasValue
  // cannot work without one either, so it is checked here.
  if (action.selector === undefined) {
    throw new RunError("permanent", `Assert check "${action.check}" needs a selector`);
  }
  return action.selector;
}
