import type { ActionExecutor } from "./types.ts";

/** Values that mean "checked" when an `input` action targets a checkbox or radio button. */
const CHECKED_VALUES = new Set(["true", "on", "1", "yes", "checked"]);

/**
 * Replaces the field's content with the value: at once (`fill`, the default), or key by key
 * (`type`) for fields that react to each keystroke (autocomplete, masks). Recorders sometimes
 * describe ticking a checkbox as an input; those set the checked state from the value instead,
 * since filling a checkbox is an error in Playwright.
 */
export const input: ActionExecutor<"input"> = async ({ action, resolve, remainingMs }) => {
  const { locator } = await resolve(action.selector);
  const inputType = await locator.evaluate(
    (element) => (element instanceof HTMLInputElement ? element.type : null),
    undefined,
    { timeout: remainingMs() },
  );
  if (inputType === "checkbox" || inputType === "radio") {
    await locator.setChecked(CHECKED_VALUES.has(action.value.trim().toLowerCase()), { timeout: remainingMs() });
    return;
  }
  if (action.mode === "type") {
    // Typing appends, so start from an empty field as `fill` would.
    await locator.fill("", { timeout: remainingMs() });
    await locator.pressSequentially(action.value, { delay: action.typingDelayMs ?? 0, timeout: remainingMs() });
    return;
  }
  await locator.fill(action.value, { timeout: remainingMs() });
};
