/**
 * Flaky runs and a recording's health, on real Postgres: a failed attempt with retries left goes
 * back to `queued` (fenced, its `run_attempts` row written) and a pass after it is `flaky`; every
 * ending of an attempt writes its row; a quarantined recording's run ends `quarantined` (an
 * expired quarantine is none); the `stats-rollup` pass folds finished runs into daily rows once
 * (a second pass counts nothing twice) and the stats read from them; the wrong project sees
 * nothing.
 */
import type { RecordingInput } from "@conveyor/core";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../src/client.ts";
import { createProject } from "../src/queries/projects.ts";
import {
  getRecordingStatsByDays,
  getRecordingStatsByRuns,
  insertRecording,
  liftQuarantine,
  quarantineRecording,
  rollupRecordingStats,
  STATS_ROLLUP_SETTLE_MS,
} from "../src/queries/recordings.ts";
import {
  claimRun,
  createRun,
  failUnfinishedRun,
  finishRun,
  getRun,
  getRunAttempts,
  type RunOutcome,
  requeueRun,
  retryFailedAttempt,
} from "../src/queries/runs.ts";
import { runs } from "../src/schema.ts";
import { createTestDatabase, type TestDatabase } from "../src/testing.ts";

const RECORDING: RecordingInput = { version: 1, name: "t", actions: [{ type: "navigate", url: "https://a.test/" }] };

let database: TestDatabase;
let db: Db;
let projectA: string;
let projectB: string;

beforeAll(async () => {
  database = await createTestDatabase("recording_stats");
  db = database.db;
  projectA = (await createProject(db, { name: "A" })).project.id;
  projectB = (await createProject(db, { name: "B" })).project.id;
});

afterAll(async () => {
  await database?.close();
});

async function newRecording(projectId = projectA): Promise<string> {
  return (
    await insertRecording(db, projectId, { name: "r", recording: RECORDING, sourceFormat: "canonical", actionCount: 1 })
  ).id;
}

async function newRun(recordingId: string | null, retries = 0, projectId = projectA): Promise<string> {
  const { run } = await createRun(db, projectId, {
    recordingId,
    options: {},
    recording: RECORDING,
    actionsTotal: 2,
    priority: 5,
    timeoutMs: 60_000,
    actionTimeoutMs: 5_000,
    maxAttempts: 3,
    retries,
    variables: {},
  });
  return run.id;
}

const failed = (durationMs = 100): RunOutcome => ({
  status: "failed",
  durationMs,
  counts: { passed: 1, failed: 1, skipped: 0 },
  artifacts: { video: "v.webm" },
  error: { kind: "test_failure", message: "element #ok not visible", actionIndex: 1 },
});
const passed = (durationMs = 100): RunOutcome => ({
  status: "passed",
  durationMs,
  counts: { passed: 2, failed: 0, skipped: 0 },
});

/** Claims and ends one attempt of `runId` with `outcome` (a failure with retries left is retried). */
async function attempt(runId: string, outcome: RunOutcome): Promise<"retried" | "finished"> {
  const run = await claimRun(db, projectA, runId, "w1");
  if (!run) throw new Error("not claimed");
  if (outcome.status === "failed" && (await retryFailedAttempt(db, projectA, runId, run.attempt, outcome, "w1")))
    return "retried";
  expect(await finishRun(db, projectA, runId, run.attempt, outcome, "w1")).toBe(true);
  return "finished";
}

describe("test-level retries", () => {
  it("a failed attempt with a retry left goes back to queued; a pass after it is flaky; every attempt has its row", async () => {
    const id = await newRun(null, 2);
    expect(await attempt(id, failed(120))).toBe("retried");
    let run = await getRun(db, projectA, id);
    expect(run).toMatchObject({ status: "queued", attempt: 1, testFailures: 1, flaky: false });
    // Fenced: a stale attempt retries nothing.
    expect(await retryFailedAttempt(db, projectA, id, 1, failed(), "w1")).toBe(false);
    expect(await attempt(id, passed(80))).toBe("finished");
    run = await getRun(db, projectA, id);
    expect(run).toMatchObject({ status: "passed", attempt: 2, testFailures: 1, flaky: true });
    const rows = await getRunAttempts(db, projectA, id);
    expect(rows.map((r) => [r.attempt, r.status, r.durationMs, r.failedActionIndex, r.worker])).toEqual([
      [1, "retried", 120, 1, "w1"],
      [2, "passed", 80, null, "w1"],
    ]);
    expect(rows[0]).toMatchObject({ errorKind: "test_failure", artifacts: { video: "v.webm" }, actionsFailed: 1 });
    expect(await getRunAttempts(db, projectB, id)).toEqual([]);
  });

  it("retries no more than `retries`: the last failure fails the run", async () => {
    const id = await newRun(null, 1);
    expect(await attempt(id, failed())).toBe("retried");
    expect(await attempt(id, failed())).toBe("finished");
    expect(await getRun(db, projectA, id)).toMatchObject({ status: "failed", testFailures: 1, flaky: false });
    expect((await getRunAttempts(db, projectA, id)).map((r) => r.status)).toEqual(["retried", "failed"]);
  });

  it("an infrastructure retry and a give-up write their attempts' rows too", async () => {
    const id = await newRun(null);
    const first = await claimRun(db, projectA, id, "w1");
    await requeueRun(
      db,
      projectA,
      id,
      first?.attempt ?? 0,
      { type: "retry_scheduled", worker: "w1", data: {} },
      { error: { kind: "transient", message: "browser crashed" } },
    );
    const second = await claimRun(db, projectA, id, "w2");
    await failUnfinishedRun(db, projectA, id, { kind: "transient", message: "gave up" }, "w2", {
      attempt: second?.attempt ?? 0,
    });
    const rows = await getRunAttempts(db, projectA, id);
    expect(rows.map((r) => [r.attempt, r.status, r.errorMessage, r.worker])).toEqual([
      [1, "retried", "browser crashed", "w1"],
      [2, "errored", "gave up", "w2"],
    ]);
  });
});

describe("quarantine", () => {
  it("a run ending while its recording is quarantined is marked; an expired or lifted quarantine is none", async () => {
    const recordingId = await newRecording();
    const now = new Date();
    await quarantineRecording(db, projectA, recordingId, { reason: "known", until: new Date(now.getTime() + 60_000) });
    const during = await newRun(recordingId);
    await attempt(during, failed());
    expect(await getRun(db, projectA, during)).toMatchObject({ status: "failed", quarantined: true });

    // Expired: reads compare with now.
    await quarantineRecording(db, projectA, recordingId, { reason: "known", until: new Date(now.getTime() - 1000) });
    const expired = await newRun(recordingId);
    await attempt(expired, failed());
    expect(await getRun(db, projectA, expired)).toMatchObject({ quarantined: false });

    await quarantineRecording(db, projectA, recordingId, { reason: "known", until: new Date(now.getTime() + 60_000) });
    expect(await liftQuarantine(db, projectA, recordingId)).toMatchObject({ quarantinedUntil: null });
    const lifted = await newRun(recordingId);
    await attempt(lifted, failed());
    expect(await getRun(db, projectA, lifted)).toMatchObject({ quarantined: false });
    // Another project's key cannot quarantine it.
    expect(
      await quarantineRecording(db, projectB, recordingId, { reason: "x", until: new Date(now.getTime() + 60_000) }),
    ).toBeNull();
  });
});

describe("stats rollup", () => {
  it("folds finished runs into daily rows once; the stats read them; the wrong project sees nothing", async () => {
    const recordingId = await newRecording();
    const today = new Date();
    const yesterday = new Date(today.getTime() - 86_400_000);
    const tenDaysAgo = new Date(today.getTime() - 10 * 86_400_000);
    // Durations 100..1000 ms: passed ones and failed ones count; a flaky pass; an errored, a cancelled.
    const made: { id: string; at: Date }[] = [];
    const end = async (outcome: RunOutcome, retries: number, at: Date) => {
      const id = await newRun(recordingId, retries);
      while ((await attempt(id, outcome)) === "retried") {
        // a flaky one: failed once, then passes
        outcome = passed(outcome.durationMs);
      }
      await db.update(runs).set({ finishedAt: at }).where(eq(runs.id, id));
      made.push({ id, at });
      return id;
    };
    for (let i = 1; i <= 8; i++) await end(passed(i * 100), 0, yesterday);
    await end(failed(900), 1, yesterday); // flaky: failed, then passed (900 ms)
    const lastFailure = await end(failed(1000), 0, today);
    await end(failed(50), 0, tenDaysAgo);
    const erroredId = await newRun(recordingId);
    const claimed = await claimRun(db, projectA, erroredId, "w1");
    await failUnfinishedRun(db, projectA, erroredId, { kind: "permanent", message: "bad" }, "w1", {
      attempt: claimed?.attempt ?? 0,
    });
    await db.update(runs).set({ finishedAt: yesterday }).where(eq(runs.id, erroredId));
    // An inline run (no recording) is not a recording's.
    const inline = await newRun(null);
    await attempt(inline, passed());

    // Settled: past every run above, the inline one too, which ended at the clock's now (later
    // than `today` on a slow machine); a run it left behind would be counted by the next test.
    const later = new Date(Math.max(today.getTime(), Date.now()) + STATS_ROLLUP_SETTLE_MS + 1000);
    const first = await rollupRecordingStats(db, { now: later, batchSize: 4 });
    expect(first.runs).toBe(4);
    let total = first.runs;
    for (let pass = 0; pass < 10; pass++) {
      const next = await rollupRecordingStats(db, { now: later, batchSize: 4 });
      total += next.runs;
      if (next.runs === 0) break;
    }
    expect(total).toBeGreaterThanOrEqual(12);
    // Idempotent: nothing is counted twice.
    expect((await rollupRecordingStats(db, { now: later })).runs).toBe(0);

    const week = await getRecordingStatsByDays(db, projectA, recordingId, 7, today);
    expect(week).toMatchObject({ runs: 11, passed: 9, failed: 1, errored: 1, cancelled: 0, flaky: 1 });
    expect(week.passRate).toBeCloseTo(9 / 11);
    expect(week.flakyRate).toBeCloseTo(1 / 11);
    // Durations 100..800, 900 (flaky), 1000 (failed): p50 500, p95 1000.
    expect(week.p50DurationMs).toBe(500);
    expect(week.p95DurationMs).toBe(1000);
    expect(week.lastFailure?.runId).toBe(lastFailure);

    const month = await getRecordingStatsByDays(db, projectA, recordingId, 30, today);
    expect(month).toMatchObject({ runs: 12, failed: 2 });

    expect(await getRecordingStatsByDays(db, projectB, recordingId, 30, today)).toMatchObject({
      runs: 0,
      passRate: null,
      lastFailure: null,
    });

    const lastThree = await getRecordingStatsByRuns(db, projectA, recordingId, 3);
    expect(lastThree.runs).toBe(3);
    expect(lastThree.lastFailure?.runId).toBe(lastFailure);
    expect((await getRecordingStatsByRuns(db, projectB, recordingId, 3)).runs).toBe(0);
  });

  it("leaves runs that finished within the settle time for a later pass", async () => {
    const recordingId = await newRecording();
    const id = await newRun(recordingId);
    await attempt(id, passed());
    const now = new Date();
    expect((await rollupRecordingStats(db, { now })).runs).toBe(0);
    expect(
      (await rollupRecordingStats(db, { now: new Date(now.getTime() + STATS_ROLLUP_SETTLE_MS + 1000) })).runs,
    ).toBe(1);
  });
});
