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
 *
 * Integrity: each applied migration's sha256 is recorded, and every start compares it with the
 * file. A migration edited after it was applied would leave databases that ran the old text and
 * databases that run the new one with different schemas under the same tag, so a mismatch stops
 * the start ({@link MigrationChecksumError}) before anything else is applied. An applied tag the
 * code does not know (a database migrated by a newer release, during a rolling update or a
 * rollback) is reported, not refused: older code keeps working against an additive schema.
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
      // Line endings normalised, so a checkout with CRLF hashes as the committed LF file did.
      const text = readFileSync(`${dir}/${tag}.sql`, "utf8").replace(/\r\n/g, "\n");
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

/** An applied migration's file no longer has the text it was applied with. */
export class MigrationChecksumError extends Error {
  readonly changed: { tag: string; applied: string; file: string }[];
  constructor(changed: { tag: string; applied: string; file: string }[]) {
    super(
      `applied migration(s) changed since they were applied: ${changed
        .map((c) => `${c.tag} (applied sha256 ${c.applied.slice(0, 12)}…, file now ${c.file.slice(0, 12)}…)`)
        .join(", ")}. ` +
        "An applied migration must never be edited: restore its committed text and put the change in a new migration.",
    );
    this.name = "MigrationChecksumError";
    this.changed = changed;
  }
}

/** What {@link migrate} noticed besides what it applied. */
export interface MigrateOptions {
  /** Told of applied tags the code does not know (a newer release migrated this database). */
  onUnknownApplied?: (tags: string[]) => void;
}

/**
 * Verifies the applied migrations' checksums (throws {@link MigrationChecksumError} on a
 * mismatch, applying nothing), then applies what is missing; returns the tags it applied (empty
 * when up to date).
 */
export async function migrate(
  db: Db,
  migrations: Migration[] = loadMigrations(),
  options: MigrateOptions = {},
): Promise<string[]> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await tx.execute(
      sql`create table if not exists conveyor_migrations (
        tag text primary key,
        hash text not null,
        applied_at timestamptz not null default now()
      )`,
    );
    const appliedRows = rowsOf<{ tag: string; hash: string }>(
      await tx.execute(sql`select tag, hash from conveyor_migrations`),
    );
    const applied = new Map(appliedRows.map((r) => [r.tag, r.hash]));
    const changed = migrations.flatMap((m) => {
      const hash = applied.get(m.tag);
      return hash !== undefined && hash !== m.hash ? [{ tag: m.tag, applied: hash, file: m.hash }] : [];
    });
    if (changed.length) throw new MigrationChecksumError(changed);
    const known = new Set(migrations.map((m) => m.tag));
    const unknown = [...applied.keys()].filter((tag) => !known.has(tag));
    if (unknown.length) options.onUnknownApplied?.(unknown.sort());
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

/**
 * What every process does at start: verify and apply the migrations, and say what it did (the
 * tags applied; the applied tags this code does not know, from a newer release).
 */
export async function migrateAtStart(
  db: Db,
  logger: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void },
): Promise<string[]> {
  const applied = await migrate(db, loadMigrations(), {
    onUnknownApplied: (tags) =>
      logger.warn({ tags }, "the database has migrations this release does not know (applied by a newer release)"),
  });
  if (applied.length) logger.info({ applied }, "migrations applied");
  return applied;
}

/** Rows of a raw `execute` result, whichever driver produced it. */
export function rowsOf<T>(result: unknown): T[] {
  if (Array.isArray(result)) return result as T[];
  const rows = (result as { rows?: unknown }).rows;
  return Array.isArray(rows) ? (rows as T[]) : [];
}
