// `pnpm migrate`: applies the committed migrations to DATABASE_URL and exits.
import { ConfigError, envOptionalUrl, parseEnv, redactUrl } from "@conveyor/core";
import { z } from "zod";
import { createPostgresDb } from "../client.ts";
import { migrate } from "../migrate.ts";

const envSchema = z.object({ DATABASE_URL: envOptionalUrl(["postgres:", "postgresql:"]) }).superRefine((env, ctx) => {
  if (!env.DATABASE_URL)
    ctx.addIssue({
      code: "custom",
      path: ["DATABASE_URL"],
      message: "is required (postgres://user:pass@host:5432/db)",
    });
});

try {
  const env = parseEnv(envSchema, process.env);
  const url = env.DATABASE_URL as string;
  const handle = await createPostgresDb({ url, maxConnections: 1, applicationName: "conveyor-migrate" });
  try {
    const applied = await migrate(handle.db);
    console.log(
      applied.length ? `Applied ${applied.join(", ")} to ${redactUrl(url)}` : `${redactUrl(url)} is up to date`,
    );
  } finally {
    await handle.close();
  }
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : `Migration failed: ${(error as Error).message}`);
  process.exit(1);
}
