export * from "./env.ts";
export * from "./processor.ts";
export * from "./reconciler.ts";
export * from "./run-worker.ts";
export * from "./service.ts";
