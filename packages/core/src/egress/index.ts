export * from "./ip.ts";
export * from "./policy.ts";
export * from "./ranges.ts";
