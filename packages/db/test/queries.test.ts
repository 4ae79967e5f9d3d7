import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RecordingInput } from "@conveyor/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPgliteDb, type Db } from "../src/client.ts";
import { migrate } from "../src/migrate.ts";
import { hashApiKey } from "../src/queries/keys.ts";
import { decodeCursor } from "../src/queries/pagination.ts";
import { authenticateApiKey, createProject, getProject } from "../src/queries/projects.ts";
import { deleteRecording, getRecording, insertRecording, listRecordings } from "../src/queries/recordings.ts";
import {
  type ActionResultRow,
  type CreateRunInput,
  cancelQueuedRun,
  claimRun,
  createRun,
  createRuns,
  finishRun,
  getRun,
  getRunActions,
  getRunEvents,
  listRuns,
  recordActionResult,
  requeueRun,
} from "../src/queries/runs.ts";
import { createTestDatabase, type TestDatabase } from "../src/testing.ts";

const RECORDING: RecordingInput = {
  version: 1,
  name: "checkout",
  actions: [
    { type: "navigate", url: "https://example.test/" },
    { type: "click", selector: "#buy" },
  ],
};

function runInput(overrides: Partial<CreateRunInput> = {}): CreateRunInput {
  return {
    recordingId: null,
    options: {},
    recording: RECORDING,
    actionsTotal: 2,
    priority: 5,
    timeoutMs: 60_000,
    actionTimeoutMs: 5_000,
    maxAttempts: 3,
    variables: {},
    ...overrides,
  };
}

function actionResult(index: number, overrides: Partial<ActionResultRow> = {}): ActionResultRow {
  return {
    index,
    actionId: `a${index + 1}`,
    type: index === 0 ? "navigate" : "click",
    status: "passed",
    startedAt: new Date(),
    durationMs: 12.4,
    ...overrides,
  };
}

let database: TestDatabase;
let db: Db;
let projectA: string;
let projectB: string;

async function count(table: string, where = "true", params: unknown[] = []): Promise<number> {
  const [row] = await database.query<{ n: number }>(`select count(*)::int as n from ${table} where ${where}`, params);
  return row?.n ?? -1;
}

beforeAll(async () => {
  database = await createTestDatabase("queries");
  db = database.db;
  projectA = (await createProject(db, { name: "A" })).project.id;
  projectB = (await createProject(db, { name: "B" })).project.id;
});

afterAll(async () => {
  await database?.drop();
});

describe("projects", () => {
  it("stores only a hash of the API key and authenticates with it", async () => {
    const { project, apiKey } = await createProject(db, { name: "keys" });
    expect(apiKey).toMatch(/^cvk_/);
    const rows = await database.query<Record<string, unknown>>("select * from api_keys where project_id = $1", [
      project.id,
    ]);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.key_hash).toBe(hashApiKey(apiKey));
    expect(Object.values(rows[0] ?? {})).not.toContain(apiKey);
    expect((await authenticateApiKey(db, apiKey))?.projectId).toBe(project.id);
    expect(await authenticateApiKey(db, `${apiKey}x`)).toBeNull();
    expect(await authenticateApiKey(db, "not-a-key")).toBeNull();
    expect((await getProject(db, project.id))?.name).toBe("keys");
  });
});

describe("tenant isolation", () => {
  it("project B sees nothing of project A", async () => {
    const recording = await insertRecording(db, projectA, {
      name: "a-only",
      recording: RECORDING,
      sourceFormat: "conveyor",
      actionCount: 2,
    });
    const { run } = await createRun(db, projectA, runInput({ recordingId: recording.id }));
    // A run of A that B tries to touch while it is running.
    const { run: running } = await createRun(db, projectA, runInput());
    const claimed = await claimRun(db, projectA, running.id, "w-a");
    expect(claimed?.attempt).toBe(1);
    expect(await recordActionResult(db, projectA, running.id, 1, actionResult(0))).toBe(true);

    expect(await getRun(db, projectB, run.id)).toBeNull();
    expect(await getRecording(db, projectB, recording.id)).toBeNull();
    expect((await listRuns(db, projectB, { limit: 100 })).items).toEqual([]);
    expect((await listRecordings(db, projectB, { limit: 100 })).items).toEqual([]);
    expect(await getRunEvents(db, projectB, run.id)).toEqual([]);
    expect(await getRunActions(db, projectB, running.id, 1)).toEqual([]);
    expect(await cancelQueuedRun(db, projectB, run.id)).toBeNull();
    expect(await deleteRecording(db, projectB, recording.id)).toBe(false);
    expect(await claimRun(db, projectB, run.id, "w-b")).toBeNull();
    expect(await recordActionResult(db, projectB, running.id, 1, actionResult(1))).toBe(false);
    expect(
      await finishRun(
        db,
        projectB,
        running.id,
        1,
        { status: "passed", durationMs: 1, counts: { passed: 2, failed: 0, skipped: 0 } },
        "w-b",
      ),
    ).toBe(false);
    expect(await requeueRun(db, projectB, running.id, 1, { type: "handed_back", worker: "w-b", data: {} })).toBe(false);

    // Nothing B did changed A's data.
    expect((await getRun(db, projectA, run.id))?.status).toBe("queued");
    expect((await getRun(db, projectA, running.id))?.status).toBe("running");
    expect((await getRun(db, projectA, run.id))?.attempt).toBe(0);
    expect(await getRecording(db, projectA, recording.id)).not.toBeNull();
    expect((await getRunActions(db, projectA, running.id, 1)).map((a) => a.index)).toEqual([0]);
    expect((await getRunEvents(db, projectA, run.id)).map((e) => e.type)).toEqual(["queued"]);
    expect((await getRunEvents(db, projectA, running.id)).map((e) => e.type)).toEqual(["queued", "started"]);
  });
});

describe("createRun", () => {
  it("inserts a queued run with its queued event", async () => {
    const { run, created } = await createRun(
      db,
      projectA,
      runInput({ priority: 2, variables: { PASSWORD: "s3cret" } }),
    );
    expect(created).toBe(true);
    expect(run).toMatchObject({ projectId: projectA, status: "queued", attempt: 0, priority: 2, actionsTotal: 2 });
    expect(run.id).toMatch(/^run_/);
    const events = await getRunEvents(db, projectA, run.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: "queued", attempt: 0, data: { priority: 2 } });
  });

  it("returns the run exactly as a drizzle select reads it (one raw statement, typed like the rest)", async () => {
    const { run } = await createRun(
      db,
      projectA,
      runInput({ recordingId: null, options: { timing: "fast" }, idempotencyKey: "typed", requestHash: "h" }),
    );
    expect(run).toEqual(await getRun(db, projectA, run.id));
    expect(run.createdAt).toBeInstanceOf(Date);
    expect(run.recording).toEqual(RECORDING);
    expect(run.options).toEqual({ timing: "fast" });
    expect(typeof run.priority).toBe("number");
  });

  it("behaves the same on the embedded PGlite database of the quick start", async () => {
    const dir = mkdtempSync(join(tmpdir(), "conveyor-pglite-createrun-"));
    const lite = await createPgliteDb(dir);
    try {
      await migrate(lite.db);
      const project = (await createProject(lite.db, { name: "lite" })).project.id;
      const first = await createRun(lite.db, project, runInput({ idempotencyKey: "k", requestHash: "h" }));
      expect(first.created).toBe(true);
      expect(first.run).toEqual(await getRun(lite.db, project, first.run.id));
      expect(first.run.createdAt).toBeInstanceOf(Date);
      const again = await createRun(lite.db, project, runInput({ idempotencyKey: "k", requestHash: "h" }));
      expect(again).toEqual({ run: first.run, created: false });
      expect(await getRunEvents(lite.db, project, first.run.id)).toMatchObject([{ type: "queued" }]);
      const batch = await createRuns(lite.db, [
        { projectId: project, input: runInput({ idempotencyKey: "b", requestHash: "h" }) },
        { projectId: project, input: runInput({ idempotencyKey: "b", requestHash: "h" }) },
      ]);
      expect(batch.map((r) => (r instanceof Error ? r.message : r.created))).toEqual([true, false]);
    } finally {
      await lite.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("returns the existing run for a reused idempotency key", async () => {
    const first = await createRun(db, projectA, runInput({ idempotencyKey: "key-1", requestHash: "h1" }));
    const second = await createRun(db, projectA, runInput({ idempotencyKey: "key-1", requestHash: "h2" }));
    expect(first.created).toBe(true);
    expect(second.created).toBe(false);
    expect(second.run.id).toBe(first.run.id);
    // The stored hash is the original one: the API compares it to refuse another body.
    expect(second.run.requestHash).toBe("h1");
    expect(await count("runs", "idempotency_key = $1", ["key-1"])).toBe(1);
    expect(await count("run_events", "run_id = $1", [first.run.id])).toBe(1);
  });

  it("scopes idempotency keys by project", async () => {
    const a = await createRun(db, projectA, runInput({ idempotencyKey: "shared-key" }));
    const b = await createRun(db, projectB, runInput({ idempotencyKey: "shared-key" }));
    expect(a.created).toBe(true);
    expect(b.created).toBe(true);
    expect(b.run.id).not.toBe(a.run.id);
    expect(b.run.projectId).toBe(projectB);
  });

  it("creates exactly one run when 5 requests with the same key race", async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        createRun(db, projectA, runInput({ idempotencyKey: "race-key", requestHash: "h" })),
      ),
    );
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(new Set(results.map((r) => r.run.id)).size).toBe(1);
    expect(await count("runs", "project_id = $1 and idempotency_key = $2", [projectA, "race-key"])).toBe(1);
    expect(await count("run_events", "run_id = $1", [results[0]?.run.id])).toBe(1);
  });
});

describe("createRuns (one statement for a batch of requests)", () => {
  it("settles each request on its own: new runs, a key reused inside the batch and before it", async () => {
    await createRun(db, projectA, runInput({ idempotencyKey: "batch-old", requestHash: "old" }));
    const results = await createRuns(db, [
      { projectId: projectA, input: runInput({ priority: 1 }) },
      { projectId: projectA, input: runInput({ idempotencyKey: "batch-dup", requestHash: "first" }) },
      { projectId: projectB, input: runInput({ priority: 9 }) },
      { projectId: projectA, input: runInput({ idempotencyKey: "batch-dup", requestHash: "second" }) },
      { projectId: projectA, input: runInput({ idempotencyKey: "batch-old", requestHash: "new" }) },
    ]);
    const ok = results.map((r) => {
      if (r instanceof Error) throw r;
      return r;
    });
    expect(ok.map((r) => r.created)).toEqual([true, true, true, false, false]);
    expect(ok[0]?.run).toMatchObject({ projectId: projectA, priority: 1, status: "queued" });
    expect(ok[2]?.run).toMatchObject({ projectId: projectB, priority: 9 });
    // The in-batch duplicate gets the run its twin created; the old key gets the old run.
    expect(ok[3]?.run.id).toBe(ok[1]?.run.id);
    expect(ok[3]?.run.requestHash).toBe("first");
    expect(ok[4]?.run.requestHash).toBe("old");
    expect(new Set(ok.map((r) => r.run.id)).size).toBe(4);
    // Exactly one queued event per created run, none for the replays.
    for (const r of ok.filter((x) => x.created)) {
      expect(await getRunEvents(db, r.run.projectId, r.run.id)).toMatchObject([
        { type: "queued", data: { priority: r.run.priority } },
      ]);
    }
    expect(await count("runs", "idempotency_key = $1", ["batch-dup"])).toBe(1);
  });

  it("fails only the request that cannot be written, and writes the rest", async () => {
    const results = await createRuns(db, [
      { projectId: projectA, input: runInput() },
      { projectId: "project_doesnotexist0000000000", input: runInput() },
      { projectId: projectB, input: runInput() },
    ]);
    expect(results[0]).not.toBeInstanceOf(Error);
    expect(results[1]).toBeInstanceOf(Error);
    expect((results[1] as Error).message).toMatch(/foreign key/);
    expect(results[2]).not.toBeInstanceOf(Error);
    const ids = results.filter((r): r is Exclude<typeof r, Error> => !(r instanceof Error)).map((r) => r.run.id);
    expect(await count("runs", "id = any($1)", [ids])).toBe(2);
    expect(await count("run_events", "run_id = any($1)", [ids])).toBe(2);
    expect(await count("runs", "project_id = $1", ["project_doesnotexist0000000000"])).toBe(0);
  });
});

describe("execution", () => {
  it("claimRun increments the attempt and logs a started event", async () => {
    const { run } = await createRun(db, projectA, runInput());
    const claimed = await claimRun(db, projectA, run.id, "worker-1");
    expect(claimed).toMatchObject({ status: "running", attempt: 1, worker: "worker-1" });
    expect(claimed?.startedAt).toBeInstanceOf(Date);
    const events = await getRunEvents(db, projectA, run.id);
    expect(events.map((e) => [e.type, e.attempt, e.worker])).toEqual([
      ["queued", 0, null],
      ["started", 1, "worker-1"],
    ]);
  });

  it("fences writes of a stale attempt", async () => {
    const { run } = await createRun(db, projectA, runInput());
    expect((await claimRun(db, projectA, run.id, "worker-1"))?.attempt).toBe(1);
    // The first worker lost its lock; the queue redelivered to a second one.
    expect((await claimRun(db, projectA, run.id, "worker-2"))?.attempt).toBe(2);
    const eventsBefore = await count("run_events", "run_id = $1", [run.id]);

    expect(await recordActionResult(db, projectA, run.id, 1, actionResult(0))).toBe(false);
    expect(
      await finishRun(
        db,
        projectA,
        run.id,
        1,
        {
          status: "failed",
          durationMs: 10,
          counts: { passed: 0, failed: 1, skipped: 1 },
          error: { kind: "test_failure", message: "stale" },
        },
        "worker-1",
      ),
    ).toBe(false);
    expect(await requeueRun(db, projectA, run.id, 1, { type: "handed_back", worker: "worker-1", data: {} })).toBe(
      false,
    );

    expect(await count("run_actions", "run_id = $1", [run.id])).toBe(0);
    expect(await count("run_events", "run_id = $1", [run.id])).toBe(eventsBefore);
    const current = await getRun(db, projectA, run.id);
    expect(current).toMatchObject({
      status: "running",
      attempt: 2,
      worker: "worker-2",
      errorMessage: null,
      actionsFailed: 0,
    });

    // The current attempt writes normally.
    expect(await recordActionResult(db, projectA, run.id, 2, actionResult(0))).toBe(true);
    expect(
      await finishRun(
        db,
        projectA,
        run.id,
        2,
        { status: "passed", durationMs: 20, counts: { passed: 2, failed: 0, skipped: 0 } },
        "worker-2",
      ),
    ).toBe(true);
    expect(await getRun(db, projectA, run.id)).toMatchObject({ status: "passed", actionsPassed: 2, durationMs: 20 });
    // A finished run takes no more writes, even from its own attempt.
    expect(await recordActionResult(db, projectA, run.id, 2, actionResult(1))).toBe(false);
    expect(await claimRun(db, projectA, run.id, "worker-3")).toBeNull();
    const events = await getRunEvents(db, projectA, run.id);
    expect(events.map((e) => e.type)).toEqual(["queued", "started", "started", "finished"]);
    expect(events[3]).toMatchObject({ attempt: 2, worker: "worker-2", data: { status: "passed" } });
  });

  it("records an action result once per (run, attempt, index)", async () => {
    const { run } = await createRun(db, projectA, runInput());
    await claimRun(db, projectA, run.id, "worker-1");
    expect(await recordActionResult(db, projectA, run.id, 1, actionResult(0, { durationMs: 5 }))).toBe(true);
    // A redelivered write is a no-op, never a duplicate nor an overwrite.
    expect(
      await recordActionResult(db, projectA, run.id, 1, actionResult(0, { durationMs: 999, status: "failed" })),
    ).toBe(false);
    expect(await count("run_actions", "run_id = $1", [run.id])).toBe(1);
    const actions = await getRunActions(db, projectA, run.id, 1);
    expect(actions).toHaveLength(1);
    expect(actions[0]).toMatchObject({ index: 0, status: "passed", durationMs: 5, projectId: projectA });
  });
});

describe("cancelQueuedRun", () => {
  it("cancels a queued run and logs it", async () => {
    const { run } = await createRun(db, projectA, runInput());
    const result = await cancelQueuedRun(db, projectA, run.id);
    expect(result?.cancelled).toBe(true);
    expect(result?.run).toMatchObject({ id: run.id, status: "cancelled", errorKind: "cancelled" });
    expect(result?.run.finishedAt).toBeInstanceOf(Date);
    expect((await getRunEvents(db, projectA, run.id)).map((e) => e.type)).toEqual(["queued", "cancelled"]);
    // Again: the run as it is, not cancelled by this call, no second event.
    const again = await cancelQueuedRun(db, projectA, run.id);
    expect(again?.cancelled).toBe(false);
    expect(again?.run.status).toBe("cancelled");
    expect(await count("run_events", "run_id = $1", [run.id])).toBe(2);
  });

  it("leaves a running run running", async () => {
    const { run } = await createRun(db, projectA, runInput());
    await claimRun(db, projectA, run.id, "worker-1");
    const after = await cancelQueuedRun(db, projectA, run.id);
    expect(after?.cancelled).toBe(false);
    expect(after?.run.status).toBe("running");
    expect((await getRun(db, projectA, run.id))?.status).toBe("running");
    expect((await getRunEvents(db, projectA, run.id)).map((e) => e.type)).toEqual(["queued", "started"]);
  });

  it("returns null for an unknown run", async () => {
    expect(await cancelQueuedRun(db, projectA, "run_00000000000000000000000000")).toBeNull();
  });
});

describe("listRuns", () => {
  it("paginates 25 runs 10, 10, 5, newest first, without duplicates or gaps", async () => {
    const { project } = await createProject(db, { name: "paging" });
    const created: string[] = [];
    for (let i = 0; i < 25; i++) {
      // One run per millisecond, so creation order is the expected order.
      const start = Date.now();
      while (Date.now() === start) await new Promise((resolve) => setTimeout(resolve, 1));
      created.push((await createRun(db, project.id, runInput({ priority: (i % 10) + 1 }))).run.id);
    }

    const pages: string[][] = [];
    let cursor: { createdAt: Date; id: string } | undefined;
    for (;;) {
      const page = await listRuns(db, project.id, { limit: 10, ...(cursor ? { cursor } : {}) });
      pages.push(page.items.map((r) => r.id));
      if (!page.nextCursor) break;
      const decoded = decodeCursor(page.nextCursor);
      expect(decoded).not.toBeNull();
      cursor = decoded ?? undefined;
      expect(pages.length).toBeLessThan(10);
    }
    expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(pages.flat()).toEqual([...created].reverse());

    // A page holding every row has no next cursor.
    const exact = await listRuns(db, project.id, { limit: 25 });
    expect(exact.items).toHaveLength(25);
    expect(exact.nextCursor).toBeNull();
  });

  it("filters by status", async () => {
    const { project } = await createProject(db, { name: "filter" });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await createRun(db, project.id, runInput())).run.id);
    const [first, second, third] = ids as [string, string, string, string];
    expect((await cancelQueuedRun(db, project.id, first))?.cancelled).toBe(true);
    expect((await cancelQueuedRun(db, project.id, third))?.cancelled).toBe(true);
    await claimRun(db, project.id, second, "w");

    const cancelled = await listRuns(db, project.id, { limit: 10, status: ["cancelled"] });
    expect(cancelled.items.map((r) => r.id).sort()).toEqual([first, third].sort());
    expect(cancelled.items.every((r) => r.status === "cancelled")).toBe(true);
    const active = await listRuns(db, project.id, { limit: 10, status: ["queued", "running"] });
    expect(active.items).toHaveLength(2);
    expect(active.items.map((r) => r.status).sort()).toEqual(["queued", "running"]);
    expect((await listRuns(db, project.id, { limit: 10, status: ["passed"] })).items).toEqual([]);
    // The filter combines with pagination.
    const page1 = await listRuns(db, project.id, { limit: 1, status: ["cancelled"] });
    expect(page1.items).toHaveLength(1);
    const cursor = page1.nextCursor ? decodeCursor(page1.nextCursor) : null;
    expect(cursor).not.toBeNull();
    const page2 = await listRuns(db, project.id, { limit: 1, status: ["cancelled"], ...(cursor ? { cursor } : {}) });
    expect(page2.items).toHaveLength(1);
    expect(page2.nextCursor).toBeNull();
    expect([page1.items[0]?.id, page2.items[0]?.id].sort()).toEqual([first, third].sort());
  });
});

describe("recordings", () => {
  it("lists newest first and deletes, keeping runs made from a recording", async () => {
    const { project } = await createProject(db, { name: "recs" });
    const input = { recording: RECORDING, sourceFormat: "conveyor", actionCount: 2 };
    const one = await insertRecording(db, project.id, { name: "one", ...input });
    await new Promise((resolve) => setTimeout(resolve, 2));
    const two = await insertRecording(db, project.id, { name: "two", ...input });
    expect((await listRecordings(db, project.id, { limit: 10 })).items.map((r) => r.id)).toEqual([two.id, one.id]);
    const { run } = await createRun(db, project.id, runInput({ recordingId: one.id }));
    expect(await deleteRecording(db, project.id, one.id)).toBe(true);
    expect(await deleteRecording(db, project.id, one.id)).toBe(false);
    const after = await getRun(db, project.id, run.id);
    expect(after?.recordingId).toBeNull();
    expect(after?.recording).toEqual(RECORDING);
  });
});
