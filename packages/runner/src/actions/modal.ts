import { RunError, type Selector } from "@conveyor/core";
import { candidateLocator, describeSelector, selectorCandidates } from "../selectors.ts";
import { sleep } from "../sleep.ts";
import type { ActionExecutor } from "./types.ts";

/** What counts as an open modal when the action names none: native, ARIA, Bootstrap, SweetAlert2. */
export const DEFAULT_MODAL_SELECTOR = [
  "dialog[open]",
  "[role=dialog]",
  "[role=alertdialog]",
  "[aria-modal=true]",
  ".modal.show",
  ".swal2-popup",
].join(", ");

const POLL_INTERVALS_MS = [0, 50, 100, 250, 500];

/**
 * Waits for an in-page modal to be shown ("open") or gone ("closed"). Only visible elements
 * count: frameworks often keep a closed modal in the DOM, hidden.
 */
export const modal: ActionExecutor<"modal"> = async ({ action, scope, resolve, timeoutMs, deadline, signal }) => {
  const selector: Selector = action.selector ?? DEFAULT_MODAL_SELECTOR;
  if (action.state === "open") {
    try {
      await resolve(selector, { visible: true });
    } catch (error) {
      if (!(error instanceof RunError) || error.kind !== "test_failure") throw error;
      throw new RunError(
        "test_failure",
        `Expected a modal dialog (${describeSelector(selector)}) to open, but none was visible after ${timeoutMs} ms`,
      );
    }
    return;
  }

  const candidates = selectorCandidates(selector);
  let stillOpen = "";
  for (let round = 0; ; round++) {
    stillOpen = "";
    for (const candidate of candidates) {
      // An invalid selector makes count() throw: the recording is wrong, so let it fail the action.
      const visible = await candidateLocator(scope, candidate).filter({ visible: true }).count();
      if (visible > 0) {
        stillOpen = typeof selector === "string" ? selector : `${candidate.strategy}=${candidate.value}`;
        break;
      }
    }
    if (stillOpen === "") return;
    const remaining = deadline - Date.now();
    if (remaining <= 0 || signal.aborted) break;
    await sleep(
      Math.min(POLL_INTERVALS_MS[Math.min(round + 1, POLL_INTERVALS_MS.length - 1)] ?? 500, remaining),
      signal,
    );
  }
  throw new RunError(
    "test_failure",
    `Expected the modal dialog to close, but ${JSON.stringify(stillOpen)} was still visible after ${timeoutMs} ms`,
  );
};
