/**
 * Alert evaluation on real Postgres, through the transitions workers use (claimRun, finishRun,
 * failUnfinishedRun, the schedules' tick): notifications are written with the state change that
 * causes them, on state changes only — once after N failures in a row, once on recovery, a
 * reminder when asked, once per flaky streak — and never for a quarantined run, a cancelled one,
 * or inside a maintenance window; suite runs alert when their last run ends; a schedule paused
 * for its failures alerts; a `pause` window skips a schedule's times.
 */
import type { RecordingInput } from "@conveyor/core";
import {
  type AlertRuleInput,
  claimRun,
  createProject,
  createRun,
  createSuiteRun,
  failUnfinishedRun,
  finishRun,
  fireSchedule,
  handBackRunOfDeadWorker,
  insertAlertRule,
  insertMaintenanceWindow,
  insertRecording,
  insertSchedule,
  insertSuite,
  processDueSchedules,
} from "@conveyor/db";
import { createTestDatabase, type TestDatabase } from "@conveyor/db/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

const RECORDING: RecordingInput = {
  version: 1,
  name: "checkout",
  actions: [{ type: "navigate", url: "http://127.0.0.1:9/" }],
} as RecordingInput;

let db: TestDatabase;
let projectId: string;
let otherProjectId: string;
let channelId: string;
let n = 0;

beforeAll(async () => {
  db = await createTestDatabase("alerts");
  projectId = (await createProject(db.db, { name: "alerts" })).project.id;
  otherProjectId = (await createProject(db.db, { name: "other" })).project.id;
  channelId = await channel(projectId, "ops");
});

afterAll(async () => {
  await db?.drop();
});

beforeEach(async () => {
  // Each test starts without rules, windows or notifications of earlier ones.
  await db.query("delete from alert_rules");
  await db.query("delete from maintenance_windows");
  await db.query("delete from notifications");
});

async function channel(project: string, name: string, enabled = true): Promise<string> {
  n += 1;
  const id = `chn_test${String(n).padStart(22, "0")}`;
  await db.query(
    "insert into channels (id, project_id, name, type, target_sealed, target_hint, enabled) values ($1, $2, $3, 'webhook', 'sealed', 'https://hooks.test', $4)",
    [id, project, name, enabled],
  );
  return id;
}

async function recording(name = "checkout"): Promise<string> {
  const row = await insertRecording(db.db, projectId, {
    name,
    recording: { ...RECORDING, name },
    sourceFormat: "conveyor",
    actionCount: 1,
  });
  return row.id;
}

async function rule(overrides: Partial<AlertRuleInput> = {}) {
  n += 1;
  return insertAlertRule(db.db, projectId, {
    name: `rule ${n}`,
    scopeType: "project",
    scopeValue: null,
    events: ["run.failed", "run.recovered"],
    afterConsecutiveFailures: 1,
    remindEveryHours: null,
    channelIds: [channelId],
    ...overrides,
  });
}

async function run(recordingId: string, status: "passed" | "failed", before?: (runId: string) => Promise<void>) {
  const { run } = await createRun(db.db, projectId, {
    recordingId,
    options: {},
    recording: RECORDING,
    actionsTotal: 1,
    priority: 5,
    timeoutMs: 60_000,
    actionTimeoutMs: 5_000,
    maxAttempts: 3,
    variables: {},
  });
  const claimed = await claimRun(db.db, projectId, run.id, "w-test");
  if (!claimed) throw new Error("not claimed");
  await before?.(run.id);
  const ok = await finishRun(
    db.db,
    projectId,
    run.id,
    claimed.attempt,
    {
      status,
      durationMs: 10,
      counts: { passed: status === "passed" ? 1 : 0, failed: status === "failed" ? 1 : 0, skipped: 0 },
      ...(status === "failed"
        ? { error: { kind: "assertion" as const, code: null, message: "element not found: #pay", actionIndex: 0 } }
        : {}),
    } as Parameters<typeof finishRun>[4],
    "w-test",
  );
  if (!ok) throw new Error("not finished");
  return run.id;
}

async function sent() {
  return db.query<{ type: string; run_id: string | null; payload: Record<string, any>; deliveries: number }>(
    `select n.type, n.run_id, n.payload, (select count(*)::int from deliveries d where d.notification_id = n.id) as deliveries
       from notifications n where n.project_id = $1 order by n.created_at, n.id`,
    [projectId],
  );
}

describe("run alerts", () => {
  it("alert once after N failures in a row, once on recovery, with one pending delivery per channel", async () => {
    const recordingId = await recording();
    await rule({ afterConsecutiveFailures: 2 });
    await run(recordingId, "failed");
    expect(await sent()).toEqual([]);
    const second = await run(recordingId, "failed");
    await run(recordingId, "failed");
    const recovered = await run(recordingId, "passed");
    await run(recordingId, "passed");
    const list = await sent();
    expect(list.map((row) => [row.type, row.run_id])).toEqual([
      ["run.failed", second],
      ["run.recovered", recovered],
    ]);
    expect(list.every((row) => row.deliveries === 1)).toBe(true);
    const failed = list[0]?.payload;
    expect(failed).toMatchObject({
      event: "run.failed",
      consecutiveFailures: 2,
      reminder: false,
      run: { id: second, status: "failed", error: { kind: "assertion", message: "element not found: #pay" } },
      recording: { id: recordingId, name: "checkout" },
      links: { run: `/api/runs/${second}` },
    });
    expect(list[1]?.payload).toMatchObject({ event: "run.recovered", failedRunsBefore: 3 });
    const deliveries = await db.query<{ status: string; channel_id: string }>(
      "select status, channel_id from deliveries where project_id = $1",
      [projectId],
    );
    expect(deliveries).toEqual([
      { status: "pending", channel_id: channelId },
      { status: "pending", channel_id: channelId },
    ]);
  });

  it("remind while still failing, only after the reminder interval", async () => {
    const recordingId = await recording("reminded");
    const remind = await rule({ remindEveryHours: 1, scopeType: "recording", scopeValue: recordingId });
    await run(recordingId, "failed");
    await run(recordingId, "failed");
    expect((await sent()).map((row) => row.payload.reminder)).toEqual([false]);
    await db.query("update alert_states set alerted_at = now() - interval '2 hours' where rule_id = $1", [remind.id]);
    await run(recordingId, "failed");
    await run(recordingId, "failed");
    expect((await sent()).map((row) => row.payload.reminder)).toEqual([false, true]);
  });

  it("never for a quarantined run, and not inside a maintenance window (the state still counts)", async () => {
    const recordingId = await recording("quiet");
    await rule({ afterConsecutiveFailures: 1 });
    // Quarantined when its run ends: the run is marked so, and alerts skip it.
    await db.query("update recordings set quarantined_until = now() + interval '1 day' where id = $1", [recordingId]);
    const quarantined = await run(recordingId, "failed", (runId) =>
      db.query("update runs set quarantined = true where id = $1", [runId]).then(() => undefined),
    );
    const [row] = await db.query<{ quarantined: boolean }>("select quarantined from runs where id = $1", [quarantined]);
    expect(row?.quarantined).toBe(true);
    await db.query("update recordings set quarantined_until = null where id = $1", [recordingId]);
    expect(await sent()).toEqual([]);
    const window = await insertMaintenanceWindow(db.db, projectId, {
      scopeType: "recording",
      scopeValue: recordingId,
      startsAt: new Date(Date.now() - 60_000),
      endsAt: new Date(Date.now() + 3_600_000),
      mode: "silence",
      reason: "deploy",
    });
    await run(recordingId, "failed");
    expect(await sent()).toEqual([]);
    const [state] = await db.query<{ failing: boolean; consecutive_failures: number }>(
      "select failing, consecutive_failures from alert_states where subject = $1",
      [`recording:${recordingId}`],
    );
    expect(state).toEqual({ failing: true, consecutive_failures: 1 });
    // The window ends: the recovery is told (the failure it silenced is not sent afterwards).
    await db.query("update maintenance_windows set ends_at = now() - interval '1 second' where id = $1", [window.id]);
    await run(recordingId, "passed");
    expect((await sent()).map((row) => row.type)).toEqual(["run.recovered"]);
  });

  it("once per streak of flaky passes, and for each dead-lettered run", async () => {
    const recordingId = await recording("flaky");
    await rule({ events: ["run.flaky", "run.dead_lettered"] });
    const markFlaky = (runId: string) =>
      db.query("update runs set flaky = true, test_failures = 1 where id = $1", [runId]).then(() => undefined);
    const first = await run(recordingId, "passed", markFlaky);
    await run(recordingId, "passed", markFlaky);
    await run(recordingId, "passed");
    const again = await run(recordingId, "passed", markFlaky);
    const { run: dead } = await createRun(db.db, projectId, {
      recordingId,
      options: {},
      recording: RECORDING,
      actionsTotal: 1,
      priority: 5,
      timeoutMs: 60_000,
      actionTimeoutMs: 5_000,
      maxAttempts: 1,
      variables: {},
    });
    await failUnfinishedRun(db.db, projectId, dead.id, { kind: "transient", message: "browser crashed" }, "queue", {
      deadLetter: true,
    });
    // A run whose workers kept dying is given up on by the reconciler's hand-back: dead-lettered too.
    const { run: abandoned } = await createRun(db.db, projectId, {
      recordingId,
      options: {},
      recording: RECORDING,
      actionsTotal: 1,
      priority: 5,
      timeoutMs: 60_000,
      actionTimeoutMs: 5_000,
      maxAttempts: 3,
      variables: {},
    });
    const claimed = await claimRun(db.db, projectId, abandoned.id, "w-dead");
    expect(
      await handBackRunOfDeadWorker(db.db, {
        projectId,
        runId: abandoned.id,
        attempt: claimed?.attempt ?? 0,
        deadWorker: "w-dead",
        by: "w-reconciler",
        reason: "silent",
        maxTakeovers: 0,
      }),
    ).toBe("gave_up");
    expect((await sent()).map((row) => [row.type, row.run_id])).toEqual([
      ["run.flaky", first],
      ["run.flaky", again],
      ["run.dead_lettered", dead.id],
      ["run.dead_lettered", abandoned.id],
    ]);
  });

  it("only rules of the run's project, scope and events; disabled channels get no delivery", async () => {
    const recordingId = await recording("scoped");
    const other = await recording("elsewhere");
    const disabled = await channel(projectId, "off", false);
    const foreign = await channel(otherProjectId, "foreign");
    await rule({ scopeType: "recording", scopeValue: other });
    await rule({ scopeType: "tag", scopeValue: "checkout" });
    await rule({ events: ["run.recovered"] });
    await rule({ channelIds: [disabled, foreign] });
    await run(recordingId, "failed");
    const list = await sent();
    // Only the last rule matched run.failed: its notification is logged, with no delivery.
    expect(list.map((row) => [row.type, row.deliveries])).toEqual([["run.failed", 0]]);
    await db.query("update recordings set tags = '{checkout}' where id = $1", [recordingId]);
    await run(recordingId, "failed");
    expect((await sent()).map((row) => [row.type, row.deliveries])).toEqual([
      ["run.failed", 0],
      ["run.failed", 1],
    ]);
  });
});

describe("suite and schedule alerts", () => {
  it("a suite run alerts once, when its last run ends, with its aggregate status", async () => {
    const a = await recording("suite-a");
    const b = await recording("suite-b");
    const suite = await insertSuite(db.db, projectId, {
      name: "nightly",
      recordingIds: [a, b],
      tagQuery: null,
      defaults: {},
    });
    await rule({ events: ["suite_run.finished"], scopeType: "suite", scopeValue: suite.id });
    const child = (recordingId: string) => ({
      recordingId,
      recording: RECORDING,
      actionsTotal: 1,
      priority: 5,
      timeoutMs: 60_000,
      actionTimeoutMs: 5_000,
      maxAttempts: 3,
      options: {},
    });
    const { suiteRun, runs } = await createSuiteRun(db.db, projectId, { suite, children: [child(a), child(b)] });
    const finish = async (runId: string, status: "passed" | "failed") => {
      const claimed = await claimRun(db.db, projectId, runId, "w-test");
      if (!claimed) throw new Error("not claimed");
      await finishRun(
        db.db,
        projectId,
        runId,
        claimed.attempt,
        { status, durationMs: 5, counts: { passed: 0, failed: 0, skipped: 0 } },
        "w-test",
      );
    };
    await finish(runs[0]?.id ?? "", "passed");
    expect(await sent()).toEqual([]);
    await finish(runs[1]?.id ?? "", "failed");
    const list = await sent();
    expect(list.map((row) => row.type)).toEqual(["suite_run.finished"]);
    expect(list[0]?.payload).toMatchObject({
      suiteRun: { id: suiteRun.id, suiteName: "nightly", status: "failed", total: 2, counts: { passed: 1, failed: 1 } },
      links: { suiteRun: `/api/suite-runs/${suiteRun.id}` },
    });
  });

  it("a schedule paused for its failures alerts; a pause window skips its times with the reason", async () => {
    const recordingId = await recording("scheduled");
    const defaults = {
      suiteId: null,
      cron: null,
      timezone: "UTC",
      startAt: null,
      endAt: null,
      jitterSeconds: 0,
      overlap: "allow" as const,
      catchUpWindowSeconds: 0,
      runOverrides: {},
      runDefaults: { timeoutMs: 60_000, actionTimeoutMs: 5_000, maxAttempts: 3 },
    };
    const now = new Date();
    const schedule = await insertSchedule(
      db.db,
      projectId,
      { ...defaults, name: "every minute", recordingId, everySeconds: 60, pauseAfterFailures: 1 },
      new Date(now.getTime() - 120_000),
    );
    await rule({ events: ["schedule.paused"], scopeType: "schedule", scopeValue: schedule.id });
    const fired = await fireSchedule(db.db, schedule, now, { now, manual: true });
    const runId = fired.enqueue[0]?.id;
    if (!runId) throw new Error("the trigger started no run");
    const claimed = await claimRun(db.db, projectId, runId, "w-test");
    if (!claimed) throw new Error("not claimed");
    await finishRun(
      db.db,
      projectId,
      runId,
      claimed.attempt,
      { status: "failed", durationMs: 5, counts: { passed: 0, failed: 1, skipped: 0 } },
      "w-test",
    );
    const tick = await processDueSchedules(db.db, new Date(), { toleranceMs: 15_000 });
    expect(tick.paused.map((paused) => paused.scheduleId)).toEqual([schedule.id]);
    const list = await sent();
    expect(list.map((row) => row.type)).toEqual(["schedule.paused"]);
    expect(list[0]?.payload).toMatchObject({
      schedule: { id: schedule.id, name: "every minute", reason: "paused after 1 consecutive failed run(s)" },
    });

    // A pause window: the next due time is skipped, and the fire log says why.
    const windowed = await insertSchedule(
      db.db,
      projectId,
      { ...defaults, name: "windowed", recordingId, everySeconds: 60, pauseAfterFailures: null },
      new Date(now.getTime() - 61_000),
    );
    const window = await insertMaintenanceWindow(db.db, projectId, {
      scopeType: "schedule",
      scopeValue: windowed.id,
      startsAt: new Date(now.getTime() - 3_600_000),
      endsAt: new Date(now.getTime() + 3_600_000),
      mode: "pause",
      reason: "db migration",
    });
    const due = windowed.nextFireAt ?? new Date();
    await processDueSchedules(db.db, new Date(due.getTime() + 1000), { toleranceMs: 15_000 });
    const fires = await db.query<{ outcome: string; reason: string; run_id: string | null }>(
      "select outcome, reason, run_id from schedule_fires where schedule_id = $1",
      [windowed.id],
    );
    expect(fires).toHaveLength(1);
    expect(fires[0]).toMatchObject({ outcome: "skipped_paused", run_id: null });
    expect(fires[0]?.reason).toContain(`maintenance window ${window.id}`);
    expect(fires[0]?.reason).toContain("db migration");
  });
});
