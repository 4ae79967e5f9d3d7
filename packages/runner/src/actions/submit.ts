import { RunError } from "@conveyor/core";
import type { Frame, Request } from "playwright-core";
import { sleep } from "../sleep.ts";
import type { ActionExecutor } from "./types.ts";

/**
 * How long to watch for a navigation after submitting, in milliseconds. Submissions handled by
 * script (fetch, then update the page) never navigate, so this is how long such a submit costs.
 */
const NAVIGATION_GRACE_MS = 300;

/**
 * Submits the form (or the form around the element) with `requestSubmit()`, which validates and
 * fires `submit` handlers as a submit button would; `submit()` only where the browser lacks it.
 * A navigation that starts within a short grace period is followed until its page has loaded;
 * none starting is fine (a script-handled form).
 */
export const submit: ActionExecutor<"submit"> = async ({ page, action, resolve, remainingMs, deadline, signal }) => {
  const { locator, selectorUsed } = await resolve(action.selector);
  // Filled in by page events; an object, so the waits below read what the listeners wrote.
  const seen: { navigation: { request: Request; frame: Frame } | null; committed: boolean; failed: boolean } = {
    navigation: null,
    committed: false,
    failed: false,
  };
  const onRequest = (request: Request) => {
    if (seen.navigation === null && request.isNavigationRequest())
      seen.navigation = { request, frame: request.frame() };
  };
  const onNavigated = (frame: Frame) => {
    if (seen.navigation !== null && frame === seen.navigation.frame) seen.committed = true;
  };
  const onFailed = (request: Request) => {
    if (seen.navigation !== null && request === seen.navigation.request) seen.failed = true;
  };
  page.on("request", onRequest);
  page.on("framenavigated", onNavigated);
  page.on("requestfailed", onFailed);
  try {
    let found: boolean;
    try {
      found = await locator.evaluate(
        (element) => {
          const form =
            element instanceof HTMLFormElement
              ? element
              : (element.closest("form") ??
                ("form" in element && element.form instanceof HTMLFormElement ? element.form : null));
          if (form === null) return false;
          if (typeof form.requestSubmit === "function") form.requestSubmit();
          else form.submit();
          return true;
        },
        undefined,
        { timeout: remainingMs() },
      );
    } catch (error) {
      // The submit navigated so fast that the evaluation's page went away: it was submitted.
      if (!/Execution context was destroyed|navigat/i.test(String(error))) throw error;
      found = true;
    }
    if (!found) throw new RunError("test_failure", `${selectorUsed} is not a form, nor inside one`);

    const graceEnd = Math.min(Date.now() + NAVIGATION_GRACE_MS, deadline);
    await waitFor(() => seen.navigation !== null, graceEnd, signal);
    const started = seen.navigation;
    if (started === null) return;
    await waitFor(() => seen.committed || seen.failed, deadline, signal);
    // A failed navigation (a download, a 204) leaves the page as it was: nothing more to wait for.
    if (seen.failed) return;
    if (!seen.committed) {
      throw new RunError(
        "test_failure",
        `Submitting ${selectorUsed} started a navigation to ${started.request.url()} that did not finish in time`,
      );
    }
    await started.frame.waitForLoadState("load", { timeout: remainingMs() });
  } finally {
    page.off("request", onRequest);
    page.off("framenavigated", onNavigated);
    page.off("requestfailed", onFailed);
  }
};

/** Polls `done` until it holds, `until` (epoch ms) passes, or the run stops. */
async function waitFor(done: () => boolean, until: number, signal: AbortSignal): Promise<void> {
  while (!done() && Date.now() < until && !signal.aborted) await sleep(Math.min(20, until - Date.now()), signal);
}
