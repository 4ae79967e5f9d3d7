import { type SQL, sql } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";

/**
 * Keyset pagination on (created_at, id), newest first. The cursor is opaque to clients: base64url
 * of the last row's position. Rows must be inserted with a millisecond `created_at` (what a JS
 * Date holds), so the position round-trips exactly.
 */
export interface Page<T> {
  items: T[];
  /** Pass as `cursor` to get the next page; null on the last page. */
  nextCursor: string | null;
}

export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(JSON.stringify([createdAt.toISOString(), id])).toString("base64url");
}

/**
 * Earliest and latest position a cursor may hold. No row predates the Unix epoch or outlives year
 * 9999, and every instant between is one Postgres stores and `toISOString` writes in a form it
 * parses back (beyond, a JS date is `+275760-…` or `0000-…`, which Postgres refuses).
 */
const CURSOR_MIN_MS = Date.parse("1970-01-01T00:00:00.000Z");
const CURSOR_MAX_MS = Date.parse("9999-12-31T23:59:59.999Z");

/** What a row id in a cursor looks like (`run_…`): anything else cannot be one of ours. */
const CURSOR_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The decoded cursor, or null when it is not one of ours (the API turns that into a 400). */
export function decodeCursor(cursor: string): { createdAt: Date; id: string } | null {
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [iso, id] = value as unknown[];
    if (typeof iso !== "string" || typeof id !== "string" || !CURSOR_ID.test(id)) return null;
    const createdAt = new Date(iso);
    const time = createdAt.getTime();
    if (Number.isNaN(time) || time < CURSOR_MIN_MS || time > CURSOR_MAX_MS) return null;
    return { createdAt, id };
  } catch {
    return null;
  }
}

export function beforeCursor(
  createdAtColumn: AnyPgColumn,
  idColumn: AnyPgColumn,
  cursor: { createdAt: Date; id: string },
): SQL {
  return sql`(${createdAtColumn}, ${idColumn}) < (${cursor.createdAt.toISOString()}::timestamptz, ${cursor.id})`;
}

export function toPage<T extends { createdAt: Date; id: string }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(last.createdAt, last.id) : null };
}
