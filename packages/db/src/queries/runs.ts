/**
 * Runs, their actions and their event log, by lifecycle:
 * - runs-submit.ts: created (one or a batch), cancelled, retried: the API side;
 * - runs-read.ts: one run, lists, action results, the event log;
 * - runs-execution.ts: claimed, action results, finished, handed back: the worker side;
 * - runs-reconcile.ts: the reconciler's cross-project candidates;
 * - runs-transition.ts: `transitionRun`, the one conditional update + event every state change
 *   goes through, and `appendRunEvent`.
 *
 * Every function takes `projectId` and filters by it: tenant isolation lives here. Writes made on
 * behalf of an execution also take its `attempt`, the fencing token: they apply only while the
 * run is still `running` that same attempt, so a stale execution (a worker that lost its lock, a
 * run handed back at shutdown) can never overwrite what a newer one wrote.
 */
export * from "./runs-execution.ts";
export * from "./runs-read.ts";
export * from "./runs-reconcile.ts";
export * from "./runs-submit.ts";
export { appendRunEvent } from "./runs-transition.ts";
