import type { ActionExecutor } from "./types.ts";

/** Values that mean "checked" when an `input` action targets a checkbox or radio button. */
const CHECKED_VALUES = new Set(["true", "on", "1", "yes", "checked"]);

/** Playwright's refusal to fill a checkbox or radio button (`Input of type "checkbox" cannot be filled`). */
const NOT_FILLABLE = /Input of type "(checkbox|radio)" cannot be filled/;

/**
 * Replaces the field's content with the value: at once (`fill`, the default), or key by key
 * (`type`) for fields that react to each keystroke (autocomplete, masks). Recorders sometimes
 * describe ticking a checkbox as an input; those set the checked state from the value instead.
 * The field is filled straight away and a checkbox is recognised by Playwright refusing to fill
 * it, rather than by asking the page for the field's type first: one browser round trip less on
 * every input, which is most actions of most recordings.
 */
export const input: ActionExecutor<"input"> = async ({ action, resolve, remainingMs }) => {
  const { locator } = await resolve(action.selector);
  try {
    if (action.mode === "type") {
      // Typing appends, so start from an empty field as `fill` would.
      await locator.fill("", { timeout: remainingMs() });
      await locator.pressSequentially(action.value, { delay: action.typingDelayMs ?? 0, timeout: remainingMs() });
      return;
    }
    await locator.fill(action.value, { timeout: remainingMs() });
  } catch (error) {
    if (!(error instanceof Error) || !NOT_FILLABLE.test(error.message)) throw error;
    await locator.setChecked(CHECKED_VALUES.has(action.value.trim().toLowerCase()), { timeout: remainingMs() });
  }
};
