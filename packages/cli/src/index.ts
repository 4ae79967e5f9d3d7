export * from "./env.ts";
export * from "./start.ts";
