import { mkdirSync } from "node:fs";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import * as schema from "./schema.ts";

/** A drizzle database over either driver. Query functions take this, never a driver type. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface DbHandle {
  db: Db;
  /** "postgres" for a server, "pglite" for the embedded database of the quick start. */
  driver: "postgres" | "pglite";
  /** Runs one statement that returns rows, on either driver. */
  query<T extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Round trip to the database, for readiness checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

type StatementRunner = (text: string, params: unknown[]) => Promise<Record<string, unknown>[]>;
const preparedRunners = new WeakMap<Db, StatementRunner>();

/**
 * Runs one raw statement as a prepared statement: the server parses and plans it once per
 * connection instead of on every call. drizzle sends every query unprepared unless it is given a
 * name, and planning dominated the cost of `POST /api/runs` in Postgres (a two-insert CTE: ~600 µs
 * of Postgres CPU unprepared, ~250 µs prepared; docs/benchmarks.md). For hot-path statements with
 * a fixed text and `$n` parameters; rows come back keyed by column name, values as the driver
 * returns them under drizzle (on postgres.js timestamps are text): map them with the table's
 * columns (`mapFromDriverValue`).
 */
export async function queryPrepared(db: Db, text: string, params: unknown[]): Promise<Record<string, unknown>[]> {
  const run = preparedRunners.get(db);
  if (!run) throw new Error("queryPrepared: this database was not opened by createPostgresDb or createPgliteDb");
  return run(text, params);
}

export interface PostgresOptions {
  /** postgres:// connection URL. */
  url: string;
  /** Pool size per process. Default 10. */
  maxConnections?: number;
  /** Name shown in pg_stat_activity. */
  applicationName?: string;
}

/** Connects to a Postgres server through postgres.js. */
export async function createPostgresDb(options: PostgresOptions): Promise<DbHandle> {
  const { default: postgres } = await import("postgres");
  const { drizzle } = await import("drizzle-orm/postgres-js");
  const client = postgres(options.url, {
    max: options.maxConnections ?? 10,
    onnotice: () => {},
    connection: { application_name: options.applicationName ?? "conveyor" },
  });
  const db = drizzle(client, { schema }) as unknown as Db;
  preparedRunners.set(
    db,
    async (text, params) =>
      (await client.unsafe(text, params as never[], { prepare: true })) as unknown as Record<string, unknown>[],
  );
  return {
    db,
    driver: "postgres",
    query: async <T extends Record<string, unknown>>(text: string, params: unknown[] = []) =>
      (await client.unsafe(text, params as never[])) as unknown as T[],
    ping: async () => {
      await client`select 1`;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/**
 * Opens the embedded Postgres (PGlite) persisted in `dataDir`: the quick start's database, so a
 * newcomer needs no Postgres server. One process only; production uses {@link createPostgresDb}.
 */
export async function createPgliteDb(dataDir: string): Promise<DbHandle> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  mkdirSync(dataDir, { recursive: true });
  const client = new PGlite(dataDir);
  await client.waitReady;
  const db = drizzle(client, { schema }) as unknown as Db;
  // PGlite runs in this process: there is no round trip to save, and it plans cheaply enough.
  preparedRunners.set(db, async (text, params) => (await client.query<Record<string, unknown>>(text, params)).rows);
  return {
    db,
    driver: "pglite",
    query: async <T extends Record<string, unknown>>(text: string, params: unknown[] = []) =>
      (await client.query<T>(text, params)).rows,
    ping: async () => {
      await client.query("select 1");
    },
    close: () => client.close(),
  };
}

/** Whether `error` (or its cause: drizzle wraps driver errors) is a unique violation of `constraint`. */
export function isUniqueViolation(error: unknown, constraint: string): boolean {
  const e = error as { code?: string; constraint_name?: string; cause?: { code?: string; constraint_name?: string } };
  const pg = e.code ? e : e.cause;
  return pg?.code === "23505" && pg.constraint_name === constraint;
}
