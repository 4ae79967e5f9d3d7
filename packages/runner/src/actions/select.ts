import { type ActionOf, RunError } from "@conveyor/core";
import type { Locator } from "playwright-core";
import { isBrowserGoneError } from "../classify.ts";
import { sleep } from "../sleep.ts";
import type { ActionContext, ActionExecutor } from "./types.ts";

/** How many of the available options a failure message lists. */
const MAX_LISTED_OPTIONS = 10;
const POLL_INTERVALS_MS = [0, 50, 100, 250, 500];

interface OptionInfo {
  value: string;
  label: string;
}

interface Attempt {
  /** How a failure message names it: `value "red"`. */
  description: string;
  /** The option's position, or -1. */
  find(options: readonly OptionInfo[]): number;
}

/**
 * Picks an option by value, else by label, else by position, in that order (the recorder may
 * have captured a value that changed since, while the label still reads the same). A `value`
 * without a `label` is also tried as a label, as Playwright's own string matching does. Options
 * filled in by script after the page loads are waited for, within the action's budget.
 */
export const select: ActionExecutor<"select"> = async ({ action, resolve, remainingMs, deadline, signal }) => {
  const { locator, selectorUsed } = await resolve(action.selector);
  await chooseOption(locator, selectorUsed, action, { remainingMs, deadline, signal });
};

/** Which option to pick: see {@link select}. */
export type OptionChoice = Pick<ActionOf<"select">, "value" | "label" | "index">;

/**
 * Picks the option of the `<select>` at `locator` that `choice` names, as {@link select} does,
 * waiting for late options within the budget; `selectorUsed` names the element in messages.
 */
export async function chooseOption(
  locator: Locator,
  selectorUsed: string,
  choice: OptionChoice,
  { remainingMs, deadline, signal }: Pick<ActionContext, "remainingMs" | "deadline" | "signal">,
): Promise<void> {
  const attempts = attemptsFor(choice);
  let options: OptionInfo[] = [];
  for (let round = 0; ; round++) {
    let read: OptionInfo[] | null;
    try {
      read = await locator.evaluate(
        (element) =>
          element instanceof HTMLSelectElement
            ? Array.from(element.options, (option) => ({ value: option.value, label: option.label }))
            : null,
        undefined,
        { timeout: remainingMs() },
      );
    } catch (error) {
      // A read cut short by the deadline, after earlier ones: report what those found.
      if (round === 0 || isBrowserGoneError(error) || signal.aborted) throw error;
      break;
    }
    if (read === null) throw new RunError("test_failure", `${selectorUsed} is not a <select> element`);
    options = read;
    for (const attempt of attempts) {
      const index = attempt.find(options);
      if (index >= 0) {
        await locator.selectOption({ index }, { timeout: remainingMs() });
        return;
      }
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0 || signal.aborted) break;
    await sleep(
      Math.min(POLL_INTERVALS_MS[Math.min(round + 1, POLL_INTERVALS_MS.length - 1)] ?? 500, remaining),
      signal,
    );
  }
  throw new RunError(
    "test_failure",
    `No option of ${selectorUsed} matched ${attempts.map((attempt) => attempt.description).join(", then ")}; available options: ${listOptions(options)}`,
  );
}

function attemptsFor(choice: OptionChoice): Attempt[] {
  const attempts: Attempt[] = [];
  const { value, label, index } = choice;
  if (value !== undefined) {
    attempts.push({
      description: `value ${JSON.stringify(value)}`,
      find: (o) => o.findIndex((x) => x.value === value),
    });
  }
  if (label !== undefined) {
    attempts.push({ description: `label ${JSON.stringify(label)}`, find: (o) => findLabel(o, label) });
  }
  if (index !== undefined) {
    attempts.push({ description: `index ${index}`, find: (o) => (index < o.length ? index : -1) });
  }
  if (value !== undefined && label === undefined) {
    attempts.push({ description: `label ${JSON.stringify(value)}`, find: (o) => findLabel(o, value) });
  }
  return attempts;
}

/** Labels compare with whitespace collapsed: markup indentation inside <option> is noise. */
function findLabel(options: readonly OptionInfo[], label: string): number {
  const wanted = normalize(label);
  return options.findIndex((option) => normalize(option.label) === wanted);
}

function normalize(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function listOptions(options: readonly OptionInfo[]): string {
  if (options.length === 0) return "none";
  const listed = options
    .slice(0, MAX_LISTED_OPTIONS)
    .map((option, index) => `${index}: ${JSON.stringify(option.value)} (${JSON.stringify(normalize(option.label))})`)
    .join(", ");
  const more = options.length - MAX_LISTED_OPTIONS;
  return more > 0 ? `${listed}, … and ${more} more` : listed;
}
