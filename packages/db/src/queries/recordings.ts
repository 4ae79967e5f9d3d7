/**
 * Recordings. Every function takes `projectId` and filters by it: tenant isolation lives here,
 * so no route can forget it.
 */
import { newId, type RecordingInput } from "@conveyor/core";
import { and, arrayContains, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../client.ts";
import { type RecordingRow, type RecordingSourceRow, recordingSources, recordings } from "../schema.ts";
import { beforeCursor, type Page, toPage } from "./pagination.ts";

/**
 * Stores a recording; with `original`, also what it was uploaded as (an imported export), in the
 * same transaction.
 */
export async function insertRecording(
  db: Db,
  projectId: string,
  input: { name: string; recording: RecordingInput; sourceFormat: string; actionCount: number; original?: unknown },
): Promise<RecordingRow> {
  const { original, ...fields } = input;
  const now = new Date();
  const insert = async (tx: Db): Promise<RecordingRow> => {
    const [row] = await tx
      .insert(recordings)
      .values({ id: newId("recording", now.getTime()), projectId, createdAt: now, updatedAt: now, ...fields })
      .returning();
    if (!row) throw new Error("insert into recordings returned no row");
    if (original !== undefined) {
      await tx
        .insert(recordingSources)
        .values({ recordingId: row.id, projectId, format: fields.sourceFormat, body: original, createdAt: now });
    }
    return row;
  };
  return original === undefined ? insert(db) : db.transaction(insert);
}

/** What a recording was uploaded as, when it was imported from another format; null otherwise. */
export async function getRecordingSource(
  db: Db,
  projectId: string,
  recordingId: string,
): Promise<Pick<RecordingSourceRow, "format" | "body"> | null> {
  const [row] = await db
    .select({ format: recordingSources.format, body: recordingSources.body })
    .from(recordingSources)
    .where(and(eq(recordingSources.projectId, projectId), eq(recordingSources.recordingId, recordingId)))
    .limit(1);
  return row ?? null;
}

export async function getRecording(db: Db, projectId: string, id: string): Promise<RecordingRow | null> {
  const [row] = await db
    .select()
    .from(recordings)
    .where(and(eq(recordings.projectId, projectId), eq(recordings.id, id)))
    .limit(1);
  return row ?? null;
}

export async function listRecordings(
  db: Db,
  projectId: string,
  options: { limit: number; tag?: string; cursor?: { createdAt: Date; id: string } },
): Promise<Page<RecordingRow>> {
  const rows = await db
    .select()
    .from(recordings)
    .where(
      and(
        eq(recordings.projectId, projectId),
        options.tag === undefined ? undefined : arrayContains(recordings.tags, [options.tag]),
        options.cursor ? beforeCursor(recordings.createdAt, recordings.id, options.cursor) : undefined,
      ),
    )
    .orderBy(desc(recordings.createdAt), desc(recordings.id))
    .limit(options.limit + 1);
  return toPage(rows, options.limit);
}

/**
 * Renames a recording, replaces its tags, or sets the defaults of variables it declares; null when
 * it does not exist. `variableDefaults` maps a declared variable's name to its new default (stored
 * as given: the caller seals sensitive ones) or null to remove it; declared variables it does not
 * name keep theirs, and names the recording does not declare are ignored. One statement: the
 * defaults are merged into the stored recording as it is then, so two edits of different variables
 * never undo each other.
 */
export async function updateRecording(
  db: Db,
  projectId: string,
  id: string,
  patch: { name?: string; tags?: string[]; variableDefaults?: Record<string, string | null> },
): Promise<RecordingRow | null> {
  const { variableDefaults, ...fields } = patch;
  const recording =
    variableDefaults === undefined || Object.keys(variableDefaults).length === 0
      ? {}
      : {
          recording: sql<RecordingInput>`case when jsonb_typeof(${recordings.recording} -> 'variables') = 'array'
            then jsonb_set(${recordings.recording}, '{variables}', (
              select coalesce(jsonb_agg(case
                  when p.key is null then v.value
                  when jsonb_typeof(p.value) = 'null' then v.value - 'default'
                  else jsonb_set(v.value, '{default}', p.value) end
                order by v.ordinality), '[]'::jsonb)
              from jsonb_array_elements(${recordings.recording} -> 'variables') with ordinality v
              left join jsonb_each(${JSON.stringify(variableDefaults)}::jsonb) p on p.key = v.value ->> 'name'))
            else ${recordings.recording} end`,
        };
  const [row] = await db
    .update(recordings)
    .set({ ...fields, ...recording, updatedAt: new Date() })
    .where(and(eq(recordings.projectId, projectId), eq(recordings.id, id)))
    .returning();
  return row ?? null;
}

/** Deletes a recording; runs made from it keep their own snapshot. True when it existed. */
export async function deleteRecording(db: Db, projectId: string, id: string): Promise<boolean> {
  const deleted = await db
    .delete(recordings)
    .where(and(eq(recordings.projectId, projectId), eq(recordings.id, id)))
    .returning({ id: recordings.id });
  return deleted.length > 0;
}

// Stats and quarantine of recordings.
export * from "./recording-stats.ts";
