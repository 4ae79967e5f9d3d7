import { RunError } from "@conveyor/core";
import type { ActionExecutor } from "./types.ts";

/** Ticks or clears a checkbox, or picks a radio button, and verifies the state stuck. */
export const check: ActionExecutor<"check"> = async ({ action, resolve, remainingMs }) => {
  const { locator, selectorUsed } = await resolve(action.selector);
  const checked = action.checked ?? true;
  if (!checked) {
    const isRadio = await locator.evaluate(
      (element) => element instanceof HTMLInputElement && element.type === "radio",
      undefined,
      { timeout: remainingMs() },
    );
    if (isRadio) {
      throw new RunError(
        "test_failure",
        `Cannot uncheck radio button ${selectorUsed}: radio buttons are cleared by checking another one of their group`,
      );
    }
  }
  await locator.setChecked(checked, { timeout: remainingMs() });
};
