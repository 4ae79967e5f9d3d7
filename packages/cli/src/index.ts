export * from "./env.ts";
export * from "./replay.ts";
export * from "./start.ts";
