/**
 * Test helpers: each test file gets its own database on the test server, migrated, and drops it
 * afterwards. Point TEST_DATABASE_URL at a server where the user may CREATE DATABASE (default:
 * postgres://postgres@127.0.0.1:5432/postgres).
 */
import { randomBytes } from "node:crypto";
import { createPostgresDb, type DbHandle } from "./client.ts";
import { migrate } from "./migrate.ts";

export const DEFAULT_TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestDatabase extends DbHandle {
  /** Connection URL of the test database, for child processes. */
  url: string;
  name: string;
  /** Closes the pool and drops the database (terminating leftover connections). */
  drop(): Promise<void>;
}

function adminUrl(): string {
  // Test helpers are the one place outside an env.ts that reads the environment: they are the
  // test process's configuration.
  return process.env.TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL;
}

export function databaseUrl(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Creates an empty database (no migrations). */
export async function createEmptyTestDatabase(
  label = "t",
): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `conveyor_${label}_${randomBytes(5).toString("hex")}`;
  const admin = await createPostgresDb({ url: adminUrl(), maxConnections: 1 });
  await admin.query(`create database "${name}"`);
  await admin.close();
  return {
    name,
    url: databaseUrl(adminUrl(), name),
    drop: async () => {
      const again = await createPostgresDb({ url: adminUrl(), maxConnections: 1 });
      try {
        await again.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await again.close();
      }
    },
  };
}

/** A fresh, migrated database for one test file. */
export async function createTestDatabase(label = "t"): Promise<TestDatabase> {
  const empty = await createEmptyTestDatabase(label);
  const handle = await createPostgresDb({ url: empty.url, maxConnections: 5 });
  await migrate(handle.db);
  return {
    ...handle,
    url: empty.url,
    name: empty.name,
    drop: async () => {
      await handle.close();
      await empty.drop();
    },
  };
}
