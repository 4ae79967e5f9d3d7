import type { ActionExecutor } from "./types.ts";

/** Resizes the action's page (its `target`) to `width` × `height` CSS pixels from here on. */
export const setViewport: ActionExecutor<"setViewport"> = async ({ page, action }) => {
  await page.setViewportSize({ width: action.width, height: action.height });
};
