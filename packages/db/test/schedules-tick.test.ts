/**
 * The schedules' tick against a real Postgres, on a clock the test controls (`now` is passed in):
 * each scheduled time logged once and starting one run, concurrent ticks never doubling one,
 * missed times logged instead of run in a burst (and the catch-up window), every overlap policy
 * with runs that have not finished, pause and auto-pause, suite targets, and DST in Europe/Berlin.
 */
import { jitterMs, type RecordingInput } from "@conveyor/core";
import {
  claimRun,
  createProject,
  finishRun,
  fireSchedule,
  insertRecording,
  insertSchedule,
  insertSuite,
  pauseSchedule,
  processDueSchedules,
  resumeSchedule,
  type Schedule,
  type ScheduleInput,
} from "@conveyor/db";
import { createTestDatabase, type TestDatabase } from "@conveyor/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let db: TestDatabase;
let projectId: string;
let recordingId: string;

const RECORDING: RecordingInput = {
  version: 1,
  name: "scheduled",
  startUrl: "http://127.0.0.1:9/",
  actions: [{ type: "navigate", url: "http://127.0.0.1:9/" }],
} as RecordingInput;

const TOLERANCE = { toleranceMs: 15_000 };

beforeAll(async () => {
  db = await createTestDatabase("sched_tick");
  projectId = (await createProject(db.db, { name: "sched" })).project.id;
  recordingId = (
    await insertRecording(db.db, projectId, {
      name: "scheduled",
      recording: RECORDING,
      sourceFormat: "conveyor",
      actionCount: 1,
    })
  ).id;
});

afterAll(async () => {
  await db?.drop();
});

let n = 0;
function input(overrides: Partial<ScheduleInput>): ScheduleInput {
  n += 1;
  return {
    name: `s${n}`,
    recordingId,
    suiteId: null,
    cron: null,
    timezone: "UTC",
    everySeconds: 60,
    startAt: null,
    endAt: null,
    jitterSeconds: 0,
    overlap: "allow",
    catchUpWindowSeconds: 0,
    runOverrides: {},
    runDefaults: { timeoutMs: 60_000, actionTimeoutMs: 5_000, maxAttempts: 3 },
    pauseAfterFailures: null,
    ...overrides,
  };
}

const at = (iso: string) => new Date(iso);

async function fires(scheduleId: string) {
  const rows = await db.query<{
    scheduled_at: Date;
    outcome: string;
    run_id: string | null;
    reason: string | null;
    suite_run_id: string | null;
  }>(
    "select scheduled_at, outcome, run_id, reason, suite_run_id from schedule_fires where schedule_id = $1 order by scheduled_at",
    [scheduleId],
  );
  return rows.map((row) => ({ ...row, scheduled_at: new Date(row.scheduled_at) }));
}

async function runsOf(scheduleId: string) {
  return db.query<{ id: string; status: string; idempotency_key: string | null; suite_run_id: string | null }>(
    "select id, status, idempotency_key, suite_run_id from runs where schedule_id = $1 order by created_at, id",
    [scheduleId],
  );
}

async function tickAt(iso: string) {
  return processDueSchedules(db.db, at(iso), TOLERANCE);
}

async function finishAs(runId: string, status: "passed" | "failed") {
  const claimed = await claimRun(db.db, projectId, runId, "w-test");
  if (!claimed) throw new Error(`could not claim ${runId}`);
  await finishRun(
    db.db,
    projectId,
    runId,
    claimed.attempt,
    { status, durationMs: 5, counts: { passed: 0, failed: 0, skipped: 0 } },
    "w-test",
  );
}

describe("the tick", () => {
  it("acts on each scheduled time once: one fire, one run (keyed by the time); a second tick at the same moment does nothing", async () => {
    const schedule = await insertSchedule(db.db, projectId, input({ everySeconds: 60 }), at("2026-12-01T10:00:30Z"));
    expect(schedule.nextFireAt?.toISOString()).toBe("2026-12-01T10:01:00.000Z");
    expect((await tickAt("2026-12-01T10:00:59Z")).fires).toEqual([]);
    const first = await tickAt("2026-12-01T10:01:01Z");
    expect(first.fires.map((f) => f.outcome)).toEqual(["started"]);
    expect(first.enqueue).toHaveLength(1);
    expect((await tickAt("2026-12-01T10:01:02Z")).fires).toEqual([]);
    await tickAt("2026-12-01T10:02:00.500Z");
    const log = await fires(schedule.id);
    expect(log.map((f) => [f.scheduled_at.toISOString(), f.outcome])).toEqual([
      ["2026-12-01T10:01:00.000Z", "started"],
      ["2026-12-01T10:02:00.000Z", "started"],
    ]);
    const runs = await runsOf(schedule.id);
    expect(runs.map((r) => r.status)).toEqual(["queued", "queued"]);
    expect(runs.map((r) => r.idempotency_key)).toEqual([
      `schedule:${schedule.id}:2026-12-01T10:01:00.000Z`,
      `schedule:${schedule.id}:2026-12-01T10:02:00.000Z`,
    ]);
    expect(log.map((f) => f.run_id)).toEqual(runs.map((r) => r.id));
  });

  it("never doubles a scheduled time when ticks run concurrently", async () => {
    const schedule = await insertSchedule(db.db, projectId, input({ everySeconds: 60 }), at("2026-12-02T10:00:00Z"));
    for (const minute of ["01", "02", "03", "04", "05"]) {
      const now = `2026-12-02T10:${minute}:00.100Z`;
      await Promise.all([tickAt(now), tickAt(now), tickAt(now), tickAt(now)]);
    }
    const log = await fires(schedule.id);
    expect(log.map((f) => f.scheduled_at.toISOString().slice(11, 16))).toEqual([
      "10:01",
      "10:02",
      "10:03",
      "10:04",
      "10:05",
    ]);
    expect(log.every((f) => f.outcome === "started")).toBe(true);
    expect(await runsOf(schedule.id)).toHaveLength(5);
  });

  it("logs scheduled times acted on too late as missed, never runs them in a burst; the catch-up window runs the recent ones", async () => {
    const strict = await insertSchedule(db.db, projectId, input({ everySeconds: 60 }), at("2026-12-03T10:00:00Z"));
    const lenient = await insertSchedule(
      db.db,
      projectId,
      input({ everySeconds: 60, catchUpWindowSeconds: 180 }),
      at("2026-12-03T10:00:00Z"),
    );
    await tickAt("2026-12-03T10:01:00Z");
    // Everything was down from 10:01 to 10:10:05.
    await tickAt("2026-12-03T10:10:05Z");
    const strictLog = await fires(strict.id);
    expect(strictLog.map((f) => f.outcome)).toEqual([
      "started",
      ...Array(8).fill("missed"), // 10:02 … 10:09
      "started", // 10:10, 5 s late: within the tolerance
    ]);
    expect(strictLog[1]?.reason).toMatch(/late/);
    expect(await runsOf(strict.id)).toHaveLength(2);
    const lenientLog = await fires(lenient.id);
    // 10:07, 10:08, 10:09 (within 180 s + tolerance) and 10:10 run; older ones are missed.
    expect(lenientLog.map((f) => f.outcome)).toEqual([
      "started",
      ...Array(5).fill("missed"),
      ...Array(4).fill("started"),
    ]);
  });

  it("overlap skip: a fire while the earlier run is unfinished is logged skipped_overlap", async () => {
    const schedule = await insertSchedule(db.db, projectId, input({ overlap: "skip" }), at("2026-12-04T10:00:00Z"));
    await tickAt("2026-12-04T10:01:00Z");
    await tickAt("2026-12-04T10:02:00Z");
    const [first] = await runsOf(schedule.id);
    await finishAs(first?.id ?? "", "passed");
    await tickAt("2026-12-04T10:03:00Z");
    expect((await fires(schedule.id)).map((f) => f.outcome)).toEqual(["started", "skipped_overlap", "started"]);
  });

  it("overlap cancel_previous: the unfinished run is cancelled, then the new one starts", async () => {
    const schedule = await insertSchedule(
      db.db,
      projectId,
      input({ overlap: "cancel_previous" }),
      at("2026-12-05T10:00:00Z"),
    );
    await tickAt("2026-12-05T10:01:00Z");
    const second = await tickAt("2026-12-05T10:02:00Z");
    const runs = await runsOf(schedule.id);
    expect(runs.map((r) => r.status)).toEqual(["cancelled", "queued"]);
    expect(second.withdraw).toEqual([runs[0]?.id]);
    expect((await fires(schedule.id)).map((f) => f.outcome)).toEqual(["started", "started"]);
  });

  it("overlap buffer_one: one fire waits (buffered) and starts when the earlier run ends; a third is skipped", async () => {
    const schedule = await insertSchedule(
      db.db,
      projectId,
      input({ overlap: "buffer_one" }),
      at("2026-12-06T10:00:00Z"),
    );
    await tickAt("2026-12-06T10:01:00Z");
    await tickAt("2026-12-06T10:02:00Z");
    await tickAt("2026-12-06T10:03:00Z");
    expect((await fires(schedule.id)).map((f) => f.outcome)).toEqual(["started", "buffered", "skipped_overlap"]);
    const [first] = await runsOf(schedule.id);
    await finishAs(first?.id ?? "", "passed");
    const next = await tickAt("2026-12-06T10:03:30Z");
    expect(next.enqueue).toHaveLength(1);
    const log = await fires(schedule.id);
    expect(log.map((f) => f.outcome)).toEqual(["started", "started", "skipped_overlap"]);
    expect(log[1]?.reason).toMatch(/buffered/);
    expect(log[1]?.run_id).toBe(next.enqueue[0]?.id);
  });

  it("overlap allow: runs pile up as scheduled", async () => {
    const schedule = await insertSchedule(db.db, projectId, input({ overlap: "allow" }), at("2026-12-07T10:00:00Z"));
    await tickAt("2026-12-07T10:01:00Z");
    await tickAt("2026-12-07T10:02:00Z");
    expect((await runsOf(schedule.id)).map((r) => r.status)).toEqual(["queued", "queued"]);
  });

  it("a paused schedule logs skipped_paused with its reason; pauseAfterFailures pauses after N failed runs in a row", async () => {
    const paused = await insertSchedule(db.db, projectId, input({}), at("2026-12-08T10:00:00Z"));
    await pauseSchedule(db.db, projectId, paused.id, "maintenance");
    await tickAt("2026-12-08T10:01:00Z");
    expect(await fires(paused.id)).toMatchObject([{ outcome: "skipped_paused", reason: "maintenance" }]);
    expect(await runsOf(paused.id)).toEqual([]);

    const flaky = await insertSchedule(db.db, projectId, input({ pauseAfterFailures: 2 }), at("2026-12-08T10:00:00Z"));
    await tickAt("2026-12-08T10:01:01Z");
    let [r1] = await runsOf(flaky.id);
    await finishAs(r1?.id ?? "", "failed");
    await tickAt("2026-12-08T10:02:00Z");
    const runs = await runsOf(flaky.id);
    r1 = runs[1];
    await finishAs(r1?.id ?? "", "failed");
    const pausing = await tickAt("2026-12-08T10:02:30Z");
    expect(pausing.paused).toEqual([{ scheduleId: flaky.id, reason: "paused after 2 consecutive failed run(s)" }]);
    await tickAt("2026-12-08T10:03:00Z");
    const log = await fires(flaky.id);
    expect(log.map((f) => f.outcome)).toEqual(["started", "started", "skipped_paused"]);
    expect(log[2]?.reason).toBe("paused after 2 consecutive failed run(s)");
    const [row] = await db.query<{ pause_reason: string }>("select pause_reason from schedules where id = $1", [
      flaky.id,
    ]);
    expect(row?.pause_reason).toBe("paused after 2 consecutive failed run(s)");
  });

  it("a suite target starts a suite run whose runs carry the schedule", async () => {
    const other = (
      await insertRecording(db.db, projectId, {
        name: "second",
        recording: RECORDING,
        sourceFormat: "conveyor",
        actionCount: 1,
      })
    ).id;
    const suite = await insertSuite(db.db, projectId, {
      name: "nightly",
      recordingIds: [recordingId, other],
      tagQuery: null,
      defaults: { priority: 3 },
    });
    const schedule = await insertSchedule(
      db.db,
      projectId,
      input({ recordingId: null, suiteId: suite.id }),
      at("2026-12-09T10:00:00Z"),
    );
    const result = await tickAt("2026-12-09T10:01:00Z");
    // (The tick acts on every schedule due, earlier tests' too: count this one's.)
    expect(result.enqueue.filter((run) => run.scheduleId === schedule.id)).toHaveLength(2);
    const [fire] = await fires(schedule.id);
    expect(fire?.outcome).toBe("started");
    expect(fire?.suite_run_id).toMatch(/^srn_/);
    const runs = await runsOf(schedule.id);
    expect(runs.map((r) => r.suite_run_id)).toEqual([fire?.suite_run_id, fire?.suite_run_id]);
  });

  it("DST in Europe/Berlin: 02:30 does not fire on 29 March 2026 and fires once on 25 October 2026", async () => {
    const spring: Schedule = await insertSchedule(
      db.db,
      projectId,
      input({ everySeconds: null, cron: "30 2 * * *", timezone: "Europe/Berlin" }),
      at("2026-03-27T00:00:00Z"),
    );
    for (let hour = 0; hour <= 24 * 5; hour++) {
      const now = new Date(Date.parse("2026-03-27T00:00:05Z") + hour * 3_600_000);
      await processDueSchedules(db.db, now, { toleranceMs: 3_600_000 });
    }
    expect((await fires(spring.id)).map((f) => f.scheduled_at.toISOString())).toEqual([
      "2026-03-27T01:30:00.000Z", // CET, UTC+1
      "2026-03-28T01:30:00.000Z",
      // 29 March: 02:00 CET jumps to 03:00 CEST, 02:30 does not exist
      "2026-03-30T00:30:00.000Z", // CEST, UTC+2
      "2026-03-31T00:30:00.000Z",
    ]);
    const fall = await insertSchedule(
      db.db,
      projectId,
      input({ everySeconds: null, cron: "30 2 * * *", timezone: "Europe/Berlin" }),
      at("2026-10-24T00:00:00Z"),
    );
    for (let quarter = 0; quarter <= 4 * 24 * 2; quarter++) {
      const now = new Date(Date.parse("2026-10-24T00:00:05Z") + quarter * 900_000);
      await processDueSchedules(db.db, now, { toleranceMs: 3_600_000 });
    }
    expect((await fires(fall.id)).map((f) => f.scheduled_at.toISOString())).toEqual([
      "2026-10-24T00:30:00.000Z", // CEST
      // 25 October: 02:30 happens twice (00:30Z in CEST, 01:30Z in CET); it fires once, the first
      "2026-10-25T00:30:00.000Z",
    ]);
  });

  it("jitter delays a fire without making it late: it starts at its time plus its jitter", async () => {
    const schedule = await insertSchedule(
      db.db,
      projectId,
      input({ everySeconds: 3600, jitterSeconds: 60 }),
      at("2026-12-10T00:00:00Z"),
    );
    const jitters: number[] = [];
    for (let hour = 1; hour <= 6; hour++) {
      const time = new Date(Date.parse("2026-12-10T00:00:00Z") + hour * 3_600_000);
      const jitter = jitterMs(schedule.id, time, 60);
      jitters.push(jitter);
      expect(
        (await processDueSchedules(db.db, new Date(time.getTime() + jitter - 1), TOLERANCE)).fires.filter(
          (f) => f.scheduleId === schedule.id,
        ),
      ).toEqual([]);
      await processDueSchedules(db.db, new Date(time.getTime() + jitter + 1), TOLERANCE);
    }
    // Some of these jitters exceed the 15 s tolerance: a lateness counted from the time itself
    // would have logged them missed.
    expect(jitters.some((j) => j > TOLERANCE.toleranceMs)).toBe(true);
    expect((await fires(schedule.id)).map((f) => f.outcome)).toEqual(Array(6).fill("started"));
  });

  it("a resumed schedule is not paused again by the failures from before its resume", async () => {
    const schedule = await insertSchedule(
      db.db,
      projectId,
      input({ pauseAfterFailures: 1 }),
      at("2026-12-11T10:00:00Z"),
    );
    await tickAt("2026-12-11T10:01:00Z");
    const [run] = await runsOf(schedule.id);
    await finishAs(run?.id ?? "", "failed");
    expect((await tickAt("2026-12-11T10:01:30Z")).paused.map((p) => p.scheduleId)).toContain(schedule.id);
    await resumeSchedule(db.db, projectId, schedule.id, at("2026-12-11T10:01:40Z"));
    const next = await tickAt("2026-12-11T10:02:00Z");
    expect(next.paused.map((p) => p.scheduleId)).not.toContain(schedule.id);
    expect((await fires(schedule.id)).map((f) => f.outcome)).toEqual(["started", "started"]);
  });

  it("a manual trigger at the very millisecond of a scheduled time: one fire, and the tick moves on", async () => {
    const collided = await insertSchedule(db.db, projectId, input({ everySeconds: 60 }), at("2026-12-12T10:00:00Z"));
    const later = await insertSchedule(db.db, projectId, input({ everySeconds: 60 }), at("2026-12-12T10:00:30Z"));
    const time = at("2026-12-12T10:01:00Z");
    const manual = await fireSchedule(db.db, collided, time, { now: time, manual: true });
    expect(manual.fire?.outcome).toBe("started");
    await tickAt("2026-12-12T10:01:05Z");
    expect((await fires(collided.id)).map((f) => [f.scheduled_at.toISOString(), f.outcome])).toEqual([
      ["2026-12-12T10:01:00.000Z", "started"],
    ]);
    expect(await runsOf(collided.id)).toHaveLength(1);
    const [row] = await db.query<{ next_fire_at: string }>("select next_fire_at from schedules where id = $1", [
      collided.id,
    ]);
    expect(new Date(row?.next_fire_at ?? 0).toISOString()).toBe("2026-12-12T10:02:00.000Z");
    // The schedules due after it were not held up.
    expect((await fires(later.id)).map((f) => f.outcome)).toEqual(["started"]);
  });
});
