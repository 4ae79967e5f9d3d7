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

/** The decoded cursor, or null when it is not one of ours (the API turns that into a 400). */
export function decodeCursor(cursor: string): { createdAt: Date; id: string } | null {
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown;
    if (!Array.isArray(value) || value.length !== 2) return null;
    const [iso, id] = value as unknown[];
    if (typeof iso !== "string" || typeof id !== "string") return null;
    const createdAt = new Date(iso);
    if (Number.isNaN(createdAt.getTime())) return null;
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
