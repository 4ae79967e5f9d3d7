/**
 * What an imported recording was uploaded as, kept beside it, and the project setting that lets
 * recordings run their own JavaScript: stored, read back per project only, gone with the recording.
 */
import type { RecordingInput } from "@conveyor/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProject, getProjectAllowExpressions, updateProject } from "../src/queries/projects.ts";
import { deleteRecording, getRecordingSource, insertRecording, listRecordings } from "../src/queries/recordings.ts";
import { createTestDatabase, type TestDatabase } from "../src/testing.ts";

const RECORDING: RecordingInput = {
  version: 1,
  name: "coffee",
  actions: [{ type: "navigate", url: "https://a.test/" }],
};
/** Keys in an order jsonb would not keep (it sorts them by length). */
const ORIGINAL = { title: "coffee", steps: [{ type: "navigate", url: "https://a.test/" }], selectorAttribute: "id" };

let database: TestDatabase;
let projectA: string;
let projectB: string;

beforeAll(async () => {
  database = await createTestDatabase("recording-sources");
  projectA = (await createProject(database.db, { name: "A" })).project.id;
  projectB = (await createProject(database.db, { name: "B" })).project.id;
});

afterAll(async () => {
  await database?.drop();
});

describe("recording sources", () => {
  it("keeps the original as sent, for its own project only, until the recording goes", async () => {
    const { db } = database;
    const imported = await insertRecording(db, projectA, {
      name: "coffee",
      recording: RECORDING,
      sourceFormat: "chrome-recorder",
      actionCount: 1,
      original: ORIGINAL,
    });
    const canonical = await insertRecording(db, projectA, {
      name: "coffee",
      recording: RECORDING,
      sourceFormat: "conveyor",
      actionCount: 1,
    });
    const source = await getRecordingSource(db, projectA, imported.id);
    expect(source).toEqual({ format: "chrome-recorder", body: ORIGINAL });
    expect(Object.keys(source?.body as object)).toEqual(["title", "steps", "selectorAttribute"]);
    expect(await getRecordingSource(db, projectA, canonical.id)).toBeNull();
    expect(await getRecordingSource(db, projectB, imported.id)).toBeNull();
    // Lists don't carry it.
    const listed = (await listRecordings(db, projectA, { limit: 10 })).items;
    expect(listed.flatMap((row) => Object.keys(row))).not.toContain("body");

    expect(await deleteRecording(db, projectA, imported.id)).toBe(true);
    const [left] = await database.query<{ n: number }>(
      "select count(*)::int as n from recording_sources where recording_id = $1",
      [imported.id],
    );
    expect(left?.n).toBe(0);
  });
});

describe("allowExpressions", () => {
  it("is off by default, set per project", async () => {
    const { db } = database;
    expect(await getProjectAllowExpressions(db, projectA)).toBe(false);
    const updated = await updateProject(db, projectA, { allowExpressions: true });
    expect(updated?.allowExpressions).toBe(true);
    expect(await getProjectAllowExpressions(db, projectA)).toBe(true);
    expect(await getProjectAllowExpressions(db, projectB)).toBe(false);
    expect(await getProjectAllowExpressions(db, "prj_unknown")).toBe(false);
    // Other settings left alone keep it.
    await updateProject(db, projectA, { limits: { maxPriority: 3 } });
    expect(await getProjectAllowExpressions(db, projectA)).toBe(true);
  });
});
