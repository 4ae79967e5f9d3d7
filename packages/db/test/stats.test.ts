/**
 * The installation-wide run count behind the API's run metrics (queries/stats.ts): every
 * project's runs together, by status, with the runs and attempts ever started. (Checked once on
 * the quick start's PGlite by hand: it returns the same; a PGlite start costs ~25 s here.)
 */
import type { RecordingInput } from "@conveyor/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db, DbHandle } from "../src/client.ts";
import { type CreateRunInput, claimRun, countRunsByStatus, createProject, createRun } from "../src/index.ts";
import { createTestDatabase } from "../src/testing.ts";

const RECORDING: RecordingInput = {
  version: 1,
  name: "r",
  actions: [{ type: "navigate", url: "https://example.test/" }],
};
const INPUT: CreateRunInput = {
  recordingId: null,
  options: {},
  recording: RECORDING,
  actionsTotal: 1,
  priority: 5,
  timeoutMs: 60_000,
  actionTimeoutMs: 5_000,
  maxAttempts: 3,
  variables: {},
};

/** Two projects' runs: 3 queued, 2 running (attempt 1), one passed on its third attempt. */
async function seed(handle: DbHandle): Promise<void> {
  const db: Db = handle.db;
  for (const name of ["A", "B"]) {
    const project = (await createProject(db, { name })).project.id;
    const first = (await createRun(db, project, INPUT)).run;
    await createRun(db, project, INPUT);
    await claimRun(db, project, first.id, "w-1");
  }
  const project = (await createProject(db, { name: "C" })).project.id;
  const retried = (await createRun(db, project, INPUT)).run;
  await handle.query("update runs set status = 'passed', attempt = 3 where id = $1", [retried.id]);
  await createRun(db, project, INPUT);
}

async function expectTotals(handle: DbHandle): Promise<void> {
  const totals = await countRunsByStatus(handle.db);
  expect(Object.fromEntries(totals.byStatus)).toEqual({ queued: 3, running: 2, passed: 1 });
  expect(totals.started).toBe(3);
  expect(totals.attempts).toBe(2 + 3);
}

describe("countRunsByStatus", () => {
  let pg: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    pg = await createTestDatabase("stats");
  });
  afterAll(async () => {
    await pg?.drop();
  });

  it("counts every project's runs together, on Postgres", async () => {
    expect(Object.fromEntries((await countRunsByStatus(pg.db)).byStatus)).toEqual({});
    await seed(pg);
    await expectTotals(pg);
  });
});
