export type { ActionContext, ActionExecutor, ActionExecutors } from "./actions/index.ts";
export { ACTION_EXECUTORS } from "./actions/index.ts";
export * from "./artifacts.ts";
export * from "./chromium.ts";
export { classifyError, isBrowserGoneError } from "./classify.ts";
export * from "./execute.ts";
export * from "./pool.ts";
export * from "./selectors.ts";
export { applyVariables } from "./variables.ts";
