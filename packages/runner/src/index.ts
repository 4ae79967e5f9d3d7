export type {
  ActionContext,
  ActionExecutor,
  ActionExecutors,
  ResolveOptions,
  Scope,
} from "./actions/index.ts";
export { ACTION_EXECUTORS, DEFAULT_MODAL_SELECTOR, EXPRESSIONS_DISABLED_MESSAGE, keyChord } from "./actions/index.ts";
export * from "./chromium.ts";
export { classifyError, isBrowserGoneError } from "./classify.ts";
export { countResults, countsProblem, type RunCounts } from "./counts.ts";
export type { RunArtifacts } from "./evidence.ts";
export * from "./execute.ts";
export { MAIN_TARGET, RunPages } from "./pages.ts";
export * from "./pool.ts";
export { createRedactor, REDACTED } from "./redact.ts";
export * from "./sandbox.ts";
export * from "./selectors.ts";
export { realtimeDelayMs } from "./timing.ts";
export { applyVariables, sensitiveVariableValues } from "./variables.ts";
