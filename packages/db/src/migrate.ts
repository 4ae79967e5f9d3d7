import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { sql } from "drizzle-orm";
import type { Db } from "./client.ts";

/**
 * Applies the committed SQL migrations in ./drizzle (written by drizzle-kit, reviewed, committed).
 *
 * Concurrency: N replicas may start at once on an empty database. All of the work happens in one
 * transaction that first takes a transaction-scoped advisory lock, so the second replica waits,
 * then finds every migration applied and does nothing. Postgres DDL is transactional, so a failed
 * migration leaves nothing half-applied.
 */

const MIGRATIONS_DIR = fileURLToPath(new URL("../drizzle/", import.meta.url));
// Any constant unique to Conveyor; advisory locks are database-wide.
const MIGRATION_LOCK_KEY = 0x636f6e76; // "conv"

interface Journal {
  entries: { idx: number; tag: string }[];
}

export interface Migration {
  tag: string;
  hash: string;
  statements: string[];
}

export function loadMigrations(dir: string = MIGRATIONS_DIR): Migration[] {
  const journal = JSON.parse(readFileSync(`${dir}/meta/_journal.json`, "utf8")) as Journal;
  return [...journal.entries]
    .sort((a, b) => a.idx - b.idx)
    .map(({ tag }) => {
      const text = readFileSync(`${dir}/${tag}.sql`, "utf8");
      return {
        tag,
        hash: createHash("sha256").update(text).digest("hex"),
        statements: text
          .split("--> statement-breakpoint")
          .map((s) => s.trim())
          .filter(Boolean),
      };
    });
}

/** Applies what is missing; returns the tags it applied (empty when up to date). */
export async function migrate(db: Db, migrations: Migration[] = loadMigrations()): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await tx.execute(
      sql`create table if not exists conveyor_migrations (
        tag text primary key,
        hash text not null,
        applied_at timestamptz not null default now()
      )`,
    );
    const appliedRows = await tx.execute(sql`select tag from conveyor_migrations`);
    const applied = new Set(rowsOf<{ tag: string }>(appliedRows).map((r) => r.tag));
    const done: string[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.tag)) continue;
      for (const statement of migration.statements) {
        await tx.execute(sql.raw(statement));
      }
      await tx.execute(sql`insert into conveyor_migrations (tag, hash) values (${migration.tag}, ${migration.hash})`);
      done.push(migration.tag);
    }
    return done;
  });
}

/** Rows of a raw `execute` result, whichever driver produced it. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  const rows = (result as { rows?: unknown }).rows;
  return Array.isArray(rows) ? (rows as T[]) : [];
}
