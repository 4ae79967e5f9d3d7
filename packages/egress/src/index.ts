export * from "./proxy.ts";
export * from "./request.ts";
export * from "./resolve.ts";
