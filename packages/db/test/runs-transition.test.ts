/**
 * `transitionRun`, the one conditional update + event every state change of a run goes through:
 * it applies only to a run of this project in one of the `from` statuses (at the given attempt,
 * matching `where`), and logs its event exactly when it applied — with the run's attempt. And the
 * fences of the transitions built on it that the other query tests do not reach. Real Postgres.
 */
import type { RecordingInput } from "@conveyor/core";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../src/client.ts";
import { createProject } from "../src/queries/projects.ts";
import {
  claimRun,
  createRun,
  failUnfinishedRun,
  finishRun,
  getRun,
  getRunEvents,
  requestRunCancel,
} from "../src/queries/runs.ts";
import { transitionRun } from "../src/queries/runs-transition.ts";
import { runs } from "../src/schema.ts";
import { createTestDatabase, type TestDatabase } from "../src/testing.ts";

const RECORDING: RecordingInput = { version: 1, name: "t", actions: [{ type: "navigate", url: "https://a.test/" }] };

let database: TestDatabase;
let db: Db;
let projectA: string;
let projectB: string;

async function newRun(projectId: string): Promise<string> {
  const { run } = await createRun(db, projectId, {
    recordingId: null,
    options: {},
    recording: RECORDING,
    actionsTotal: 1,
    priority: 5,
    timeoutMs: 60_000,
    actionTimeoutMs: 5_000,
    maxAttempts: 3,
    variables: {},
  });
  return run.id;
}

beforeAll(async () => {
  database = await createTestDatabase("runs_transition");
  db = database.db;
  projectA = (await createProject(db, { name: "A" })).project.id;
  projectB = (await createProject(db, { name: "B" })).project.id;
});

afterAll(async () => {
  await database?.close();
});

describe("transitionRun", () => {
  it("applies only from the given statuses, attempt, project and condition, logging one event when it does", async () => {
    const id = await newRun(projectA);
    await claimRun(db, projectA, id, "w1");
    await claimRun(db, projectA, id, "w2"); // attempt 2
    const before = (await getRunEvents(db, projectA, id)).length;
    const attempt = (transition: Partial<Parameters<typeof transitionRun>[1]>) =>
      db.transaction((tx) =>
        transitionRun(tx, {
          projectId: projectA,
          runId: id,
          from: ["running"],
          set: { status: "queued" },
          event: { type: "requeued", worker: "w2", data: { why: "test" } },
          ...transition,
        }),
      );

    expect(await attempt({ attempt: 1 })).toBeNull(); // stale attempt
    expect(await attempt({ from: ["queued"] })).toBeNull(); // wrong status
    expect(await attempt({ projectId: projectB })).toBeNull(); // another project
    expect(await attempt({ where: sql`${runs.cancelRequestedAt} is not null` })).toBeNull();
    expect(await getRun(db, projectA, id)).toMatchObject({ status: "running", attempt: 2 });
    expect((await getRunEvents(db, projectA, id)).length).toBe(before);

    expect(await attempt({ attempt: 2 })).toEqual({ id, attempt: 2 });
    expect(await getRun(db, projectA, id)).toMatchObject({ status: "queued", attempt: 2 });
    const events = await getRunEvents(db, projectA, id);
    expect(events.length).toBe(before + 1);
    expect(events.at(-1)).toMatchObject({ type: "requeued", attempt: 2, worker: "w2", data: { why: "test" } });
  });

  it("returns the whole row when asked", async () => {
    const id = await newRun(projectA);
    const run = await db.transaction((tx) =>
      transitionRun(tx, {
        projectId: projectA,
        runId: id,
        from: ["queued"],
        set: { priority: 1 },
        event: { type: "requeued" },
        returnRun: true,
      }),
    );
    expect(run).toMatchObject({ id, priority: 1, status: "queued", recording: RECORDING });
  });
});

describe("transitions built on it", () => {
  it("requestRunCancel marks a running run once, and never one of another project", async () => {
    const id = await newRun(projectA);
    expect(await requestRunCancel(db, projectA, id)).toMatchObject({ requested: false }); // still queued
    await claimRun(db, projectA, id, "w1");
    expect(await requestRunCancel(db, projectB, id)).toBeNull();
    expect(await requestRunCancel(db, projectA, id)).toMatchObject({ requested: true, run: { attempt: 1 } });
    expect(await requestRunCancel(db, projectA, id)).toMatchObject({ requested: false });
    const cancels = (await getRunEvents(db, projectA, id)).filter((e) => e.type === "cancel_requested");
    expect(cancels).toMatchObject([{ attempt: 1 }]);
  });

  it("failUnfinishedRun ends a run whatever its attempt, but never a finished one", async () => {
    const id = await newRun(projectA);
    await claimRun(db, projectA, id, "w1");
    await claimRun(db, projectA, id, "w2");
    const error = { kind: "transient" as const, message: "gave up" };
    // A worker giving up on its own attempt 1 is fenced out: attempt 2 owns the run now.
    expect(await failUnfinishedRun(db, projectA, id, error, "w1", { deadLetter: true, attempt: 1 })).toBe(false);
    expect(await getRun(db, projectA, id)).toMatchObject({ status: "running", attempt: 2 });
    expect(await failUnfinishedRun(db, projectA, id, error, "w3", { deadLetter: true })).toBe(true);
    expect(await getRun(db, projectA, id)).toMatchObject({ status: "errored", errorMessage: "gave up" });
    expect((await getRun(db, projectA, id))?.deadLetteredAt).toBeInstanceOf(Date);
    expect((await getRunEvents(db, projectA, id)).at(-1)).toMatchObject({
      type: "finished",
      attempt: 2,
      worker: "w3",
      data: { status: "errored", error, deadLettered: true },
    });
    expect(await failUnfinishedRun(db, projectA, id, error, "w3")).toBe(false);
    const done = await newRun(projectA);
    await claimRun(db, projectA, done, "w1");
    const outcome = { status: "passed" as const, durationMs: 5, counts: { passed: 1, failed: 0, skipped: 0 } };
    expect(await finishRun(db, projectA, done, 1, outcome, "w1")).toBe(true);
    expect(await failUnfinishedRun(db, projectA, done, error, "w3")).toBe(false);
    expect(await getRun(db, projectA, done)).toMatchObject({ status: "passed" });
  });
});
