/**
 * Fault: a schedule every two seconds, fired by the ticks of two worker processes, while Redis
 * (without persistence, the schedules' clock included) is SIGKILLed and restarted empty. Each
 * scheduled time gets exactly one fire row: the ones before and after the outage start one run
 * each, the ones the outage swallowed are logged `missed` (never run in a burst afterwards), none
 * is doubled and none is skipped; every run it started passes. The workers upsert the clock's job
 * scheduler again on their own (the schedule-clock service task), so the schedule resumes without
 * anyone touching it. Two API replicas run beside the two workers.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  createFaultStack,
  type FaultStack,
  type RedisServer,
  resilientQuery,
  startRedisServer,
  stopAllRedisServers,
} from "@conveyor/testing/faults";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { freePort, waitFor } from "@conveyor/testing/processes";
import { loginRecording } from "@conveyor/testing/recordings";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let site: FixtureSite;
let redis: RedisServer;
let fault: FaultStack;

const EVERY_S = 2;

beforeAll(async () => {
  site = await startFixtureSite();
  redis = await startRedisServer();
  // A scheduled time acted on more than 1 s late is missed: the outage below is longer.
  fault = await createFaultStack("f-schedule", {
    redis,
    env: { SCHEDULE_MIN_INTERVAL_S: "1", SCHEDULE_TOLERANCE_MS: "1000" },
  });
  // Two API replicas, as the setup has: the API never fires a schedule, so a second one
  // must change nothing (the requests go to the first).
  await fault.startApi();
  const first = fault.stack.api;
  await fault.startApi({ PORT: String(await freePort()) });
  fault.stack.api = first;
  await fault.stack.createProject("schedules");
  await Promise.all([
    fault.startWorker("w-sched-a", { WORKER_CONCURRENCY: "2" }),
    fault.startWorker("w-sched-b", { WORKER_CONCURRENCY: "2" }),
  ]);
});

afterAll(async () => {
  await fault?.stop();
  await stopAllRedisServers();
  await site?.close();
});

interface Fire {
  scheduled_at: string;
  outcome: string;
  run_id: string | null;
}

const firesOf = (scheduleId: string) =>
  resilientQuery<Fire>(
    fault.db,
    "select scheduled_at, outcome, run_id from schedule_fires where schedule_id = $1 order by scheduled_at",
    [scheduleId],
  );

describe("a schedule through a Redis restart", () => {
  it("fires exactly once per scheduled time: started before and after, missed during the outage", {
    timeout: 180_000,
  }, async () => {
    const recording = await fault.request("POST", "/api/recordings", loginRecording(site.url));
    expect(recording.status, JSON.stringify(recording.body)).toBe(201);
    const created = await fault.request("POST", "/api/schedules", {
      name: "every 2 s",
      recordingId: recording.body.id,
      everySeconds: EVERY_S,
      overlap: "allow",
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const scheduleId = created.body.id as string;
    const started = async () => (await firesOf(scheduleId)).filter((f) => f.outcome === "started").length;
    await waitFor(async () => ((await started()) >= 3 ? true : undefined), {
      timeoutMs: 60_000,
      what: "three started fires",
    });

    await redis.kill("SIGKILL");
    const downAt = Date.now();
    await sleep(6_000);
    await redis.restart();
    const upAt = Date.now();
    // The workers upsert the clock again within 30 s; the schedule then fires again.
    await waitFor(
      async () =>
        (await firesOf(scheduleId)).some((f) => f.outcome === "started" && Date.parse(f.scheduled_at) > upAt)
          ? true
          : undefined,
      { timeoutMs: 60_000, what: "a started fire after the restart" },
    );
    await sleep(3 * EVERY_S * 1000);
    const paused = await fault.request("POST", `/api/schedules/${scheduleId}/pause`, { reason: "test over" });
    expect(paused.status).toBe(200);
    await sleep(EVERY_S * 1000);

    const fires = await firesOf(scheduleId);
    const times = fires.map((f) => Date.parse(f.scheduled_at));
    // One row per scheduled time, none doubled, none skipped.
    for (let i = 1; i < times.length; i++) expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBe(EVERY_S * 1000);
    const outcome = (f: Fire, i: number) => `${new Date(times[i] ?? 0).toISOString()} ${f.outcome}`;
    const during = fires.filter((_, i) => (times[i] ?? 0) > downAt + 1000 && (times[i] ?? 0) < upAt - 1000);
    expect(during.length, fires.map(outcome).join("\n")).toBeGreaterThan(0);
    expect(
      during.map((f) => f.outcome),
      fires.map(outcome).join("\n"),
    ).toEqual(during.map(() => "missed"));
    for (const fire of fires) expect(["started", "missed", "skipped_paused"]).toContain(fire.outcome);
    expect(fires.filter((f, i) => f.outcome === "started" && (times[i] ?? 0) < downAt).length).toBeGreaterThanOrEqual(
      3,
    );

    // One run per started fire, and each passes (a job lost with Redis is the reconciler's).
    const startedFires = fires.filter((f) => f.outcome === "started");
    const runs = await resilientQuery<{ id: string }>(fault.db, "select id from runs where schedule_id = $1", [
      scheduleId,
    ]);
    expect(runs.map((r) => r.id).sort()).toEqual(startedFires.map((f) => f.run_id).sort());
    for (const fire of startedFires) {
      const run = await fault.stack.waitForRun(fire.run_id ?? "", ["passed", "failed", "errored", "cancelled"], 90_000);
      expect(run.status, `run ${fire.run_id} of ${fire.scheduled_at}`).toBe("passed");
    }
  });
});
