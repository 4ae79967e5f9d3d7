import type { ActionExecutor } from "./types.ts";

export const click: ActionExecutor<"click"> = async ({ action, resolve, remainingMs }) => {
  const { locator } = await resolve(action.selector);
  await locator.click({ button: action.button ?? "left", clickCount: action.clickCount ?? 1, timeout: remainingMs() });
};
