/**
 * The schedules' clock on real Redis and Postgres: two schedulers (two workers) share one BullMQ
 * job scheduler; a schedule every second fires once per scheduled time with no gap and none
 * doubled, its runs' jobs are enqueued, and after Redis loses every key of the prefix (a flush)
 * the job scheduler is upserted again and the schedule goes on firing.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger, RUNS_QUEUE } from "@conveyor/core";
import { createProject, insertRecording, insertSchedule } from "@conveyor/db";
import { createTestDatabase, type TestDatabase } from "@conveyor/db/testing";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SCHEDULE_TICK, SCHEDULES_QUEUE, Scheduler } from "../src/scheduler.ts";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `cvt-scheduler-${randomBytes(4).toString("hex")}`;
const logger = createLogger({ level: "silent" });

let db: TestDatabase;
let redis: Redis;
const schedulers: Scheduler[] = [];

beforeAll(async () => {
  db = await createTestDatabase("scheduler");
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  for (const scheduler of schedulers) await scheduler.stop();
  await deleteKeys();
  redis?.disconnect();
  await db?.drop();
});

async function deleteKeys(): Promise<number> {
  let cursor = "0";
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys);
  } while (cursor !== "0");
  return deleted;
}

describe("Scheduler", () => {
  it("fires a schedule once per scheduled time across two workers, and heals after Redis loses its keys", async () => {
    const projectId = (await createProject(db.db, { name: "sched" })).project.id;
    const recording = await insertRecording(db.db, projectId, {
      name: "every second",
      recording: { name: "every second", actions: [{ type: "navigate", url: "http://127.0.0.1:9/" }] },
      sourceFormat: "conveyor",
      actionCount: 1,
    });
    const schedule = await insertSchedule(db.db, projectId, {
      name: "every second",
      recordingId: recording.id,
      suiteId: null,
      cron: null,
      timezone: "UTC",
      everySeconds: 1,
      startAt: null,
      endAt: null,
      jitterSeconds: 0,
      overlap: "allow",
      catchUpWindowSeconds: 0,
      runOverrides: {},
      runDefaults: { timeoutMs: 60_000, actionTimeoutMs: 5_000, maxAttempts: 3 },
      pauseAfterFailures: null,
    });
    for (let i = 0; i < 2; i++) {
      const scheduler = new Scheduler({
        db,
        connection: redis,
        prefix,
        logger,
        tickMs: 250,
        toleranceMs: 15_000,
        backoffMs: 100,
        healEveryMs: 500,
      });
      schedulers.push(scheduler);
      await scheduler.start();
    }
    await sleep(4_000);
    const flushedAt = Date.now();
    expect(await deleteKeys()).toBeGreaterThan(0);
    await sleep(4_000);
    for (const scheduler of schedulers.splice(0)) await scheduler.stop();

    const fires = (
      await db.query<{ scheduled_at: string; outcome: string; run_id: string | null }>(
        "select scheduled_at, outcome, run_id from schedule_fires where schedule_id = $1 order by scheduled_at",
        [schedule.id],
      )
    ).map((f) => ({ ...f, at: new Date(f.scheduled_at).getTime() }));
    expect(fires.length).toBeGreaterThanOrEqual(5);
    // One row per second, none doubled, no hole.
    for (let i = 1; i < fires.length; i++) expect((fires[i]?.at ?? 0) - (fires[i - 1]?.at ?? 0)).toBe(1000);
    expect(fires.every((f) => f.outcome === "started")).toBe(true);
    // The clock came back after the flush.
    expect(fires.some((f) => f.at > flushedAt + 1500)).toBe(true);
    const runs = await db.query<{ id: string; idempotency_key: string }>(
      "select id, idempotency_key from runs where schedule_id = $1",
      [schedule.id],
    );
    expect(runs).toHaveLength(fires.length);
    expect(new Set(runs.map((r) => r.idempotency_key)).size).toBe(runs.length);
    // The runs fired after the flush have their jobs (those before it went with the flush: the
    // reconciler's to enqueue again).
    const queue = new Queue(RUNS_QUEUE, { connection: redis, prefix });
    const after = fires.filter((f) => f.at > flushedAt + 1500);
    for (const fire of after) expect(await queue.getJob(fire.run_id ?? "")).toBeDefined();
    const clock = new Queue(SCHEDULES_QUEUE, { connection: redis, prefix });
    expect((await clock.getJobSchedulers()).map((s) => s.key)).toContain(SCHEDULE_TICK);
    await queue.close();
    await clock.close();
  });
});
