import type { ActionExecutor } from "./types.ts";

/** Picks the option whose value, or else whose label, equals the action's value. */
export const select: ActionExecutor<"select"> = async ({ action, resolve, remainingMs }) => {
  const { locator } = await resolve(action.selector);
  await locator.selectOption(action.value, { timeout: remainingMs() });
};
