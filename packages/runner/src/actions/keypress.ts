import { RunError } from "@conveyor/core";
import type { ActionExecutor } from "./types.ts";

/**
 * The Playwright chord for a key with modifiers held, e.g. `Control+Shift+K`. A modifier that is
 * also the key itself is not repeated.
 */
export function keyChord(key: string, modifiers: readonly string[] = []): string {
  return [...new Set(modifiers.filter((modifier) => modifier !== key)), key].join("+");
}

/**
 * Presses a key (with modifiers) on the element, focusing it first, or on whatever has focus.
 * Always pressed for real: a recording's Enter or shortcut is often what makes the next step
 * happen.
 */
export const keypress: ActionExecutor<"keypress"> = async ({ page, action, resolve, remainingMs }) => {
  if (action.key.trim() === "") throw new RunError("permanent", "A keypress action needs a key");
  const chord = keyChord(action.key, action.modifiers);
  if (action.selector === undefined) {
    await page.keyboard.press(chord);
    return;
  }
  const { locator } = await resolve(action.selector);
  await locator.press(chord, { timeout: remainingMs() });
};
