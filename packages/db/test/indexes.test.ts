/**
 * Lists must read their index in order, not sort the project's whole history: the first page of
 * GET /api/runs costs the same with 100 runs or 100k. (An index declared DESC NULLS LAST cannot
 * serve `order by created_at desc`, which means NULLS FIRST; the benchmark found exactly that.)
 */
import { createProject } from "@conveyor/db";
import { createTestDatabase, type TestDatabase } from "@conveyor/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let db: TestDatabase;
let projectId: string;

beforeAll(async () => {
  db = await createTestDatabase("indexes");
  projectId = (await createProject(db.db, { name: "indexes" })).project.id;
  await db.query(
    `insert into runs (id, project_id, status, priority, max_attempts, timeout_ms, action_timeout_ms, recording, actions_total, created_at)
     select 'run_' || lpad(g::text, 26, '0'), $1, case when g % 3 = 0 then 'failed' else 'passed' end, 5, 3, 1000, 1000,
       '{"name":"x","actions":[]}'::jsonb, 1, now() - (g || ' seconds')::interval
     from generate_series(1, 2000) g`,
    [projectId],
  );
  await db.query("analyze runs");
});

afterAll(async () => {
  await db?.drop();
});

/** The plan of a list query as the query layer writes it (order by created_at desc, id desc). */
async function plan(where: string): Promise<string> {
  const rows = await db.query<{ "QUERY PLAN": string }>(
    `explain select * from runs where ${where} order by created_at desc, id desc limit 21`,
    [projectId],
  );
  return rows.map((r) => r["QUERY PLAN"]).join("\n");
}

describe("list indexes", () => {
  it("GET /api/runs reads runs_project_created_idx in order, without a sort", async () => {
    const text = await plan("project_id = $1");
    expect(text).toMatch(/Index Scan using runs_project_created_idx/);
    expect(text).not.toMatch(/Sort/);
  });

  it("the status filter reads runs_project_status_created_idx in order", async () => {
    const text = await plan("project_id = $1 and status = 'failed'");
    expect(text).toMatch(/runs_project_status_created_idx/);
    expect(text).not.toMatch(/Sort/);
  });

  it("the next page (keyset cursor) is an index range, not a sort", async () => {
    const text = await plan("project_id = $1 and (created_at, id) < (now() - interval '500 seconds', 'run_zzz')");
    expect(text).toMatch(/runs_project_created_idx/);
    expect(text).not.toMatch(/Sort/);
  });
});

describe("GET /api/runs filter indexes", () => {
  beforeAll(async () => {
    // A recording whose runs are all older than the project's latest (the case a walk of the
    // project's runs reads everything for), and a few flaky runs among many that are not.
    await db.query(
      `insert into recordings (id, project_id, name, recording, action_count)
       values ('rec_old', $1, 'old', '{"name":"old","actions":[]}'::jsonb, 1)`,
      [projectId],
    );
    await db.query(
      `insert into runs (id, project_id, recording_id, status, priority, max_attempts, timeout_ms, action_timeout_ms,
         recording, actions_total, flaky, created_at)
       select 'run_rec_' || lpad(g::text, 22, '0'), $1, 'rec_old', 'passed', 5, 3, 1000, 1000,
         '{"name":"x","actions":[]}'::jsonb, 1, g % 50 = 0, now() - interval '1 day' - (g || ' seconds')::interval
       from generate_series(1, 200) g`,
      [projectId],
    );
    await db.query("analyze runs");
  });

  it("recordingId reads runs_recording_created_idx in order", async () => {
    const text = await plan("project_id = $1 and recording_id = 'rec_old'");
    expect(text).toMatch(/runs_recording_created_idx/);
    expect(text).not.toMatch(/Sort/);
  });

  it("flaky=true reads runs_project_flaky_created_idx in order", async () => {
    const text = await plan("project_id = $1 and flaky = true");
    expect(text).toMatch(/runs_project_flaky_created_idx/);
    expect(text).not.toMatch(/Sort/);
  });
});
