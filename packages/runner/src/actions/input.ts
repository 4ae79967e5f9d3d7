import { chooseOption } from "./select.ts";
import type { ActionExecutor } from "./types.ts";

/** Values that mean "checked" when an `input` action targets a checkbox or radio button. */
const CHECKED_VALUES = new Set(["true", "on", "1", "yes", "checked"]);

/** Playwright's refusal to fill a checkbox or radio button (`Input of type "checkbox" cannot be filled`). */
const NOT_FILLABLE = /Input of type "(checkbox|radio)" cannot be filled/;

/** Playwright's refusal to fill anything but a text field or a contenteditable (a `<select>` among them). */
const NOT_A_TEXT_FIELD = /Element is not an <input>, <textarea> or \[contenteditable\] element/;

/**
 * Sets the field to the value, whatever the field is (an input, as Chrome DevTools Recorder's
 * `change` step means it): a text field or a contenteditable element gets its content replaced,
 * at once (`fill`, the default) or key by key (`type`) for fields that react to each keystroke
 * (autocomplete, masks); a `<select>` gets the option whose value, else label, is the value
 * (waiting for late options, like `select`); a checkbox or radio button (recorders sometimes
 * describe ticking one as an input) gets its checked state from the value. The field is filled
 * straight away and the other kinds are recognised by Playwright refusing to fill them, rather
 * than by asking the page for the field's kind first: one browser round trip less on every
 * input, which is most actions of most recordings.
 */
export const input: ActionExecutor<"input"> = async (ctx) => {
  const { action, resolve, remainingMs } = ctx;
  const { locator, selectorUsed } = await resolve(action.selector);
  try {
    if (action.mode === "type") {
      // Typing appends, so start from an empty field as `fill` would.
      await locator.fill("", { timeout: remainingMs() });
      await locator.pressSequentially(action.value, { delay: action.typingDelayMs ?? 0, timeout: remainingMs() });
      return;
    }
    await locator.fill(action.value, { timeout: remainingMs() });
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    if (NOT_FILLABLE.test(error.message)) {
      await locator.setChecked(CHECKED_VALUES.has(action.value.trim().toLowerCase()), { timeout: remainingMs() });
      return;
    }
    if (!NOT_A_TEXT_FIELD.test(error.message)) throw error;
    const isSelect = await locator.evaluate((element) => element instanceof HTMLSelectElement, undefined, {
      timeout: remainingMs(),
    });
    if (!isSelect) throw error;
    await chooseOption(locator, selectorUsed, { value: action.value }, ctx);
  }
};
