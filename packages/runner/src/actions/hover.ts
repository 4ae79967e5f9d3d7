import type { ActionExecutor } from "./types.ts";

/** Moves the mouse over the element and, with realtime timing, stays as long as the user did. */
export const hover: ActionExecutor<"hover"> = async ({ action, resolve, remainingMs, pace }) => {
  const { locator } = await resolve(action.selector);
  await locator.hover({ timeout: remainingMs() });
  if (action.durationMs !== undefined) await pace(action.durationMs);
};
