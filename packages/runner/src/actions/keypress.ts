import type { ActionExecutor } from "./types.ts";

export const keypress: ActionExecutor<"keypress"> = async ({ page, action, resolve, remainingMs }) => {
  if (action.selector === undefined) {
    await page.keyboard.press(action.key);
    return;
  }
  const { locator } = await resolve(action.selector);
  await locator.press(action.key, { timeout: remainingMs() });
};
