/**
 * The reconciler against real Postgres and Redis: it re-enqueues runs whose job was lost, leaves
 * alone what a live worker holds or the queue still has, and only one reconciler works at a time.
 */
import { randomBytes } from "node:crypto";
import { createLogger, RUNS_QUEUE, runAliveKey } from "@conveyor/core";
import { type CreateRunInput, claimRun, createProject, createRun, getRunEvents } from "@conveyor/db";
import { createTestDatabase, type TestDatabase } from "@conveyor/db/testing";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Reconciler } from "../src/reconciler.ts";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `cvt-reconciler-${randomBytes(4).toString("hex")}`;
const logger = createLogger({ level: "silent" });

let db: TestDatabase;
let redis: Redis;
let queue: Queue;
let projectId: string;

const input: CreateRunInput = {
  recordingId: null,
  options: {},
  recording: { name: "r", actions: [{ type: "navigate", url: "http://127.0.0.1:1/" }] },
  actionsTotal: 1,
  priority: 3,
  timeoutMs: 60_000,
  actionTimeoutMs: 5_000,
  maxAttempts: 3,
  variables: {},
};

function reconciler(name: string): Reconciler {
  return new Reconciler({
    db,
    connection: redis,
    prefix,
    logger,
    name,
    intervalMs: 1000,
    graceMs: 1000,
    backoffMs: 100,
  });
}

/** Runs a pass as if `ms` had passed, so rows count as old without sleeping. */
const later = (ms: number) => new Date(Date.now() + ms);

beforeAll(async () => {
  db = await createTestDatabase("reconciler");
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  queue = new Queue(RUNS_QUEUE, { connection: redis, prefix });
  projectId = (await createProject(db.db, { name: "reconciler" })).project.id;
});

afterAll(async () => {
  await queue?.obliterate({ force: true }).catch(() => undefined);
  await queue?.close();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis?.disconnect();
  await db?.drop();
});

describe("Reconciler", () => {
  it("re-enqueues a queued run whose job is missing, once, with its priority", async () => {
    const { run } = await createRun(db.db, projectId, input);
    expect(await queue.getJob(run.id)).toBeUndefined();
    const r = reconciler("w-1");
    try {
      expect(await r.pass(later(5_000))).toEqual([run.id]);
      const job = await queue.getJob(run.id);
      expect(job?.data).toEqual({ runId: run.id, projectId });
      expect(job?.opts.priority).toBe(3);
      expect(job?.opts.attempts).toBe(3);
      // The job is there now: a second pass leaves it alone.
      expect(await r.pass(later(5_000))).toEqual([]);
      const events = await getRunEvents(db.db, projectId, run.id);
      expect(events.map((e) => e.type)).toEqual(["queued", "requeued"]);
      await job?.remove();
    } finally {
      await r.stop();
      await db.query("update runs set status = 'cancelled' where id = $1", [run.id]);
    }
  });

  it("leaves young runs alone (the API may still be enqueueing them)", async () => {
    const { run } = await createRun(db.db, projectId, input);
    const r = reconciler("w-1");
    try {
      expect(await r.pass(new Date())).toEqual([]);
    } finally {
      await r.stop();
      await db.query("update runs set status = 'cancelled' where id = $1", [run.id]);
    }
  });

  it("puts a running run whose job and worker are gone back to queued and enqueues it", async () => {
    const { run } = await createRun(db.db, projectId, input);
    await claimRun(db.db, projectId, run.id, "w-dead");
    const r = reconciler("w-1");
    try {
      expect(await r.pass(later(5_000))).toEqual([run.id]);
      const [row] = await db.query<{ status: string; attempt: number }>(
        "select status, attempt from runs where id = $1",
        [run.id],
      );
      expect(row).toEqual({ status: "queued", attempt: 1 });
      expect(await queue.getJob(run.id)).toBeDefined();
      const events = await getRunEvents(db.db, projectId, run.id);
      expect(events.map((e) => e.type)).toEqual(["queued", "started", "requeued"]);
      expect(events[2]?.data).toMatchObject({ from: "running" });
    } finally {
      await r.stop();
      await (await queue.getJob(run.id))?.remove();
      await db.query("update runs set status = 'cancelled' where id = $1", [run.id]);
    }
  });

  it("does not touch a running run whose worker still refreshes its alive key", async () => {
    const { run } = await createRun(db.db, projectId, input);
    await claimRun(db.db, projectId, run.id, "w-alive");
    await redis.set(runAliveKey(prefix, run.id), "w-alive", "PX", 10_000);
    const r = reconciler("w-1");
    try {
      expect(await r.pass(later(5_000))).toEqual([]);
      const [row] = await db.query<{ status: string }>("select status from runs where id = $1", [run.id]);
      expect(row?.status).toBe("running");
    } finally {
      await r.stop();
      await db.query("update runs set status = 'cancelled' where id = $1", [run.id]);
    }
  });

  it("works one at a time: a second worker's reconciler skips while the lease is held", async () => {
    const { run } = await createRun(db.db, projectId, input);
    const first = reconciler("w-first");
    const second = reconciler("w-second");
    try {
      await redis.del(`${prefix}:runs:reconciler`);
      expect(await first.pass(later(5_000))).toEqual([run.id]);
      await (await queue.getJob(run.id))?.remove();
      expect(await second.pass(later(5_000))).toEqual([]);
      // The holder keeps its lease and goes on working.
      expect(await first.pass(later(5_000))).toEqual([run.id]);
    } finally {
      await first.stop();
      await second.stop();
      await (await queue.getJob(run.id))?.remove();
      await db.query("update runs set status = 'cancelled' where id = $1", [run.id]);
    }
  });
});
