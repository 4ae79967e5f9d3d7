import { defineConfig } from "drizzle-kit";

// Used only by `pnpm db:generate` to write SQL migrations into ./drizzle; they are reviewed and
// committed, and applied by src/migrate.ts. Never `drizzle-kit push` outside local experiments.
export const config = defineConfig({
  dialect: "postgresql",
  schema: "./src/schema.ts",
  out: "./drizzle",
});
// drizzle-kit reads the default export; the one exception to the no-default-exports rule.
// biome-ignore lint/style/noDefaultExport: drizzle-kit needs it
export default config;
