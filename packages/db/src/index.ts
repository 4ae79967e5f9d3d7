export * from "./client.ts";
export * from "./migrate.ts";
export * from "./queries/keys.ts";
export * from "./queries/pagination.ts";
export * from "./queries/projects.ts";
export * from "./queries/recordings.ts";
export * from "./queries/runs.ts";
export * from "./schema.ts";
