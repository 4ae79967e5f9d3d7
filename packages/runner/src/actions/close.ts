import type { ActionExecutor } from "./types.ts";

/**
 * Closes the action's page (its `target`), e.g. a popup the recording is done with, and waits
 * until it is closed (its `beforeunload` handlers are not run, as Chrome DevTools Recorder's
 * replay does not). Closing the run's first page leaves later actions on it failing.
 */
export const close: ActionExecutor<"close"> = async ({ page }) => {
  if (page.isClosed()) return;
  await page.close();
};
