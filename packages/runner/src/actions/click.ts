import type { ActionExecutor } from "./types.ts";

/**
 * Clicks like the recorded user: which button, how many times (2 is a double click, with its
 * `dblclick` event), with which keys held, where on the element, and how long the button stays
 * down (`holdMs`: a long press, always honoured, whatever the run's timing, since pages react to
 * it).
 */
export const click: ActionExecutor<"click"> = async ({ action, resolve, remainingMs }) => {
  const { locator } = await resolve(action.selector);
  const options = {
    button: action.button ?? "left",
    ...(action.modifiers === undefined ? {} : { modifiers: [...action.modifiers] }),
    ...(action.position === undefined ? {} : { position: action.position }),
    ...(action.holdMs === undefined || action.holdMs === 0 ? {} : { delay: action.holdMs }),
    timeout: remainingMs(),
  } as const;
  if (action.clickCount === 2) {
    await locator.dblclick(options);
    return;
  }
  await locator.click({ ...options, clickCount: action.clickCount ?? 1 });
};
