/** Recordings the benchmarks submit. */
export { loginRecording } from "@conveyor/testing/recordings";

/**
 * The cheapest valid recording: one assertion on the blank page every context opens with. The
 * model needs at least one action, and the runner opens a browser context (and a page) for every
 * run whatever its actions, so this measures the pipeline plus one context creation.
 */
export const emptyishRecording = {
  name: "bench: empty-ish",
  actions: [{ type: "assert", check: "urlContains", expected: "about:blank", timeoutMs: 1000 }],
};
