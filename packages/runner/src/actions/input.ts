import type { ActionExecutor } from "./types.ts";

/** Replaces the field's content with the value (like a user selecting all and typing). */
export const input: ActionExecutor<"input"> = async ({ action, resolve, remainingMs }) => {
  const { locator } = await resolve(action.selector);
  await locator.fill(action.value, { timeout: remainingMs() });
};
