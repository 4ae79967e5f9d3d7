/**
 * Run-history retention against real Postgres: finished runs older than the cutoff go with their
 * actions and events, in batches; unfinished and newer runs stay; suite runs left without runs and
 * old fire-log rows go; the project's run counts follow.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pruneRunHistory } from "../src/queries/retention.ts";
import { createTestDatabase, type TestDatabase } from "../src/testing.ts";

let db: TestDatabase;
const DAY = 86_400_000;

beforeAll(async () => {
  db = await createTestDatabase("retention");
});

afterAll(async () => {
  await db?.drop();
});

async function insertRun(id: string, status: string, finishedDaysAgo: number | null, suiteRunId: string | null) {
  const finished = finishedDaysAgo === null ? null : new Date(Date.now() - finishedDaysAgo * DAY).toISOString();
  await db.query(
    `insert into runs (id, project_id, status, priority, max_attempts, timeout_ms, action_timeout_ms, recording,
       actions_total, finished_at, created_at, suite_run_id)
     values ($1, 'prj_r', $2, 5, 1, 1000, 1000, '{"id":"r","title":"t","actions":[]}'::jsonb, 0, $3::timestamptz,
       coalesce($3::timestamptz, now()), $4)`,
    [id, status, finished, suiteRunId],
  );
  await db.query(
    "insert into run_events (run_id, project_id, type, attempt, data) values ($1, 'prj_r', 'queued', 0, '{}')",
    [id],
  );
}

describe("pruneRunHistory", () => {
  it("deletes finished runs, their events, empty suite runs and old fires older than the cutoff, in batches", async () => {
    await db.query("insert into projects (id, name) values ('prj_r', 'retention')");
    const old = new Date(Date.now() - 40 * DAY).toISOString();
    await db.query(
      `insert into suite_runs (id, project_id, suite_name, run_ids, total, created_at) values
        ('srn_old', 'prj_r', 's', '{}', 2, $1::timestamptz), ('srn_mixed', 'prj_r', 's', '{}', 2, $1::timestamptz)`,
      [old],
    );
    for (let i = 0; i < 7; i++)
      await insertRun(`run_old_${i}`, i % 2 ? "failed" : "passed", 40 + i, i < 2 ? "srn_old" : null);
    await insertRun("run_old_mixed", "passed", 40, "srn_mixed");
    await insertRun("run_new_mixed", "passed", 1, "srn_mixed");
    await insertRun("run_recent", "errored", 2, null);
    await insertRun("run_queued", "queued", null, null);
    const before = await db.query<{ queued: number }>(
      "select queued from project_run_counts where project_id = 'prj_r'",
    );

    const result = await pruneRunHistory(db.db, { olderThan: new Date(Date.now() - 30 * DAY), batchSize: 3 });
    expect(result).toEqual({ runs: 8, suiteRuns: 1, scheduleFires: 0 });
    const left = await db.query<{ id: string }>("select id from runs order by id");
    expect(left.map((row) => row.id)).toEqual(["run_new_mixed", "run_queued", "run_recent"]);
    const events = await db.query<{ run_id: string }>("select distinct run_id from run_events order by run_id");
    expect(events.map((row) => row.run_id)).toEqual(["run_new_mixed", "run_queued", "run_recent"]);
    const suiteRuns = await db.query<{ id: string }>("select id from suite_runs order by id");
    expect(suiteRuns.map((row) => row.id)).toEqual(["srn_mixed"]);
    // The queued count is untouched by pruning finished runs.
    expect(await db.query("select queued from project_run_counts where project_id = 'prj_r'")).toEqual(before);

    const again = await pruneRunHistory(db.db, { olderThan: new Date(Date.now() - 30 * DAY), batchSize: 3 });
    expect(again).toEqual({ runs: 0, suiteRuns: 0, scheduleFires: 0 });
  });

  it("stops between batches when aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("stopping"));
    await expect(pruneRunHistory(db.db, { olderThan: new Date(), signal: controller.signal })).rejects.toThrow(
      "stopping",
    );
  });
});
