export * from "./app.ts";
export * from "./env.ts";
export * from "./queue.ts";
export * from "./server.ts";
