/**
 * The reconciler against real Postgres and Redis: it re-enqueues runs whose job was lost, hands
 * back the runs of dead workers (fenced by attempt), leaves alone what a live worker holds or the
 * queue still has, reports only what it really enqueued, and only one reconciler works at a time
 * (a compare-and-set lease).
 */
import { randomBytes } from "node:crypto";
import { createLogger, RUNS_QUEUE, reconcilerLeaseKey, runAliveKey } from "@conveyor/core";
import { type CreateRunInput, claimRun, createProject, createRun, finishRun, getRunEvents } from "@conveyor/db";
import { createTestDatabase, type TestDatabase } from "@conveyor/db/testing";
import { createTestClock } from "@conveyor/testing/clock";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { workerLivenessKey } from "../src/heartbeat.ts";
import { enqueueRunJob, Reconciler, redisDataSinceKey } from "../src/reconciler.ts";

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

function reconciler(
  name: string,
  connection: Redis = redis,
  maxTakeovers = 2,
  failpoint?: (name: string) => Promise<void>,
): Reconciler {
  return new Reconciler({
    ...(failpoint ? { failpoint } : {}),
    db,
    connection,
    prefix,
    logger,
    name,
    intervalMs: 1000,
    graceMs: 1000,
    backoffMs: 100,
    deadAfterMs: 2000,
    lockDurationMs: 1000,
    maxTakeovers,
  });
}

/** Marks a worker alive (its liveness key), as a process started at `startedAt` would. */
async function alive(worker: string, startedAt = Date.now() - 60_000): Promise<void> {
  await redis.set(workerLivenessKey(prefix, worker), String(startedAt), "PX", 60_000);
}

async function cleanup(runId: string): Promise<void> {
  const job = await queue.getJob(runId);
  await job?.remove().catch(() => undefined);
  await redis.del(`${prefix}:${RUNS_QUEUE}:${runId}:lock`);
  await db.query("update runs set status = 'cancelled' where id = $1 and status in ('queued', 'running')", [runId]);
}

/** The wall clock: `clock.later(ms)` runs a pass as if `ms` had passed, so rows count as old without sleeping. */
const clock = createTestClock();

beforeAll(async () => {
  db = await createTestDatabase("reconciler");
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  queue = new Queue(RUNS_QUEUE, { connection: redis, prefix });
  projectId = (await createProject(db.db, { name: "reconciler" })).project.id;
  // Redis has held its data for a minute: workers had time to write their liveness keys.
  await redis.set(redisDataSinceKey(prefix), String(Date.now() - 60_000));
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
      expect(await r.pass(clock.later(5_000))).toEqual([run.id]);
      const job = await queue.getJob(run.id);
      expect(job?.data).toEqual({ runId: run.id, projectId });
      expect(job?.opts.priority).toBe(3);
      expect(job?.opts.attempts).toBe(3);
      // The job is there now: a second pass leaves it alone.
      expect(await r.pass(clock.later(5_000))).toEqual([]);
      const events = await getRunEvents(db.db, projectId, run.id);
      expect(events.map((e) => e.type)).toEqual(["queued", "requeued"]);
      await job?.remove();
    } finally {
      await r.stop();
      await db.query("update runs set status = 'cancelled' where id = $1", [run.id]);
    }
  });

  it("leaves alone a run a worker claimed meanwhile from a job fetched before the loss: no job, no event", async () => {
    const { run } = await createRun(db.db, projectId, input);
    const r = reconciler("w-1", redis, 2, async (point) => {
      if (point === "reconciler.before-requeue") await claimRun(db.db, projectId, run.id, "w-early");
    });
    try {
      expect(await r.pass(clock.later(5_000))).toEqual([]);
      expect(await queue.getJob(run.id)).toBeUndefined();
      const events = await getRunEvents(db.db, projectId, run.id);
      expect(events.map((e) => `${e.type}#${e.attempt}`)).toEqual(["queued#0", "started#1"]);
    } finally {
      await r.stop();
      await cleanup(run.id);
    }
  });

  it("a worker that takes the new job at once starts the run after the requeue is logged", async () => {
    const { run } = await createRun(db.db, projectId, input);
    let claim: Promise<unknown> | undefined;
    const r = reconciler("w-1", redis, 2, async (point) => {
      // The job is in Redis now: a worker picks it up and claims the run while the pass goes on.
      if (point === "reconciler.after-add-before-commit") {
        claim = claimRun(db.db, projectId, run.id, "w-fast");
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    });
    try {
      expect(await r.pass(clock.later(5_000))).toEqual([run.id]);
      expect(await claim).not.toBeNull();
      const events = await getRunEvents(db.db, projectId, run.id);
      expect(events.map((e) => `${e.type}#${e.attempt}`)).toEqual(["queued#0", "requeued#0", "started#1"]);
    } finally {
      await r.stop();
      await cleanup(run.id);
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
      expect(await r.pass(clock.later(5_000))).toEqual([run.id]);
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
    await alive("w-alive");
    await redis.set(runAliveKey(prefix, run.id), "w-alive", "PX", 10_000);
    const r = reconciler("w-1");
    try {
      expect(await r.pass(clock.later(5_000))).toEqual([]);
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
      expect(await first.pass(clock.later(5_000))).toEqual([run.id]);
      await (await queue.getJob(run.id))?.remove();
      expect(await second.pass(clock.later(5_000))).toEqual([]);
      // The holder keeps its lease and goes on working.
      expect(await first.pass(clock.later(5_000))).toEqual([run.id]);
    } finally {
      await first.stop();
      await second.stop();
      await (await queue.getJob(run.id))?.remove();
      await db.query("update runs set status = 'cancelled' where id = $1", [run.id]);
    }
  });
  it("hands back the runs of a worker silent past the threshold, and leaves a live worker's alone", async () => {
    const { run: orphan } = await createRun(db.db, projectId, input);
    const { run: held } = await createRun(db.db, projectId, input);
    await claimRun(db.db, projectId, orphan.id, "w-silent");
    await claimRun(db.db, projectId, held.id, "w-beating");
    await alive("w-beating");
    await redis.set(runAliveKey(prefix, held.id), "w-beating", "PX", 10_000);
    const r = reconciler("w-1");
    try {
      expect(await r.pass(clock.later(5_000))).toEqual([orphan.id]);
      const rows = await db.query<{ id: string; status: string; attempt: number }>(
        "select id, status, attempt from runs where id = any($1) order by id",
        [[orphan.id, held.id]],
      );
      expect(Object.fromEntries(rows.map((row) => [row.id, row.status]))).toEqual({
        [orphan.id]: "queued",
        [held.id]: "running",
      });
      const events = await getRunEvents(db.db, projectId, orphan.id);
      expect(events.map((e) => e.type)).toEqual(["queued", "started", "requeued"]);
      expect(events[2]?.data).toMatchObject({ from: "running", deadWorker: "w-silent" });
      expect(String(events[2]?.data.reason)).toMatch(/w-silent has been silent/);
      // Fenced: the presumed-dead worker, waking up, cannot finish its attempt any more.
      expect(
        await finishRun(
          db.db,
          projectId,
          orphan.id,
          1,
          { status: "passed", durationMs: 1, counts: { passed: 1, failed: 0, skipped: 0 } },
          "w-silent",
        ),
      ).toBe(false);
    } finally {
      await r.stop();
      await cleanup(orphan.id);
      await cleanup(held.id);
    }
  });

  it("treats a worker restarted under the same name as a new process: its predecessor's runs go back", async () => {
    const { run } = await createRun(db.db, projectId, input);
    await claimRun(db.db, projectId, run.id, "w-restarted");
    // The process holding the name now started after the run was claimed.
    await alive("w-restarted", Date.now() + 1000);
    const r = reconciler("w-1");
    try {
      expect(await r.pass(clock.later(5_000))).toEqual([run.id]);
      const events = await getRunEvents(db.db, projectId, run.id);
      expect(String(events.at(-1)?.data.reason)).toMatch(/restarted since it claimed the run/);
    } finally {
      await r.stop();
      await cleanup(run.id);
    }
  });

  it("takes the active job of a dead worker from its lock back to the queue at once", async () => {
    const { run } = await createRun(db.db, projectId, input);
    await enqueueRunJob(queue, redis, { ...run }, 100);
    // A worker takes the job (active, locked, processed by it), claims the run, and dies.
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const dead = new Worker(RUNS_QUEUE, null, { connection, prefix, name: "w-killed", lockDuration: 60_000 });
    const r = reconciler("w-1");
    try {
      const job = await dead.getNextJob("dead-token");
      expect(job?.id).toBe(run.id);
      await claimRun(db.db, projectId, run.id, "w-killed");
      expect(await queue.getJobState(run.id)).toBe("active");

      expect(await r.pass(clock.later(5_000))).toEqual([run.id]);
      // Deliverable again without waiting for the lock to expire.
      expect(["waiting", "prioritized"]).toContain(await queue.getJobState(run.id));
      expect(await redis.exists(`${prefix}:${RUNS_QUEUE}:${run.id}:lock`)).toBe(0);
      const [row] = await db.query<{ status: string; attempt: number }>(
        "select status, attempt from runs where id = $1",
        [run.id],
      );
      expect(row).toEqual({ status: "queued", attempt: 1 });
      // Nothing more to do on the next pass.
      expect(await r.pass(clock.later(5_000))).toEqual([]);
    } finally {
      await r.stop();
      await dead.close(true);
      connection.disconnect();
      await cleanup(run.id);
    }
  });

  it("leaves a dead worker's runs alone right after Redis lost its data (workers rewrite their keys first)", async () => {
    const { run } = await createRun(db.db, projectId, input);
    await claimRun(db.db, projectId, run.id, "w-unknown");
    const r = reconciler("w-1");
    try {
      await redis.del(redisDataSinceKey(prefix));
      expect(await r.pass(clock.later(5_000))).toEqual([]);
      expect(await redis.exists(redisDataSinceKey(prefix))).toBe(1);
    } finally {
      await r.stop();
      await redis.set(redisDataSinceKey(prefix), String(Date.now() - 60_000));
      await cleanup(run.id);
    }
  });

  it("a run whose workers keep dying is given up after WORKER_MAX_STALLED_COUNT hand-backs", async () => {
    const { run } = await createRun(db.db, projectId, input);
    const r = reconciler("w-1", redis, 1);
    try {
      await claimRun(db.db, projectId, run.id, "w-gone-1");
      expect(await r.pass(clock.later(5_000))).toEqual([run.id]);
      await (await queue.getJob(run.id))?.remove();
      await claimRun(db.db, projectId, run.id, "w-gone-2");
      expect(await r.pass(clock.later(5_000))).toEqual([]);
      const [row] = await db.query<{ status: string; dead: boolean; message: string }>(
        "select status, dead_lettered_at is not null as dead, error_message as message from runs where id = $1",
        [run.id],
      );
      expect(row?.status).toBe("errored");
      expect(row?.dead).toBe(true);
      expect(row?.message).toMatch(/its worker died 2 time\(s\)/);
    } finally {
      await r.stop();
      await cleanup(run.id);
    }
  });

  it("puts back a running run of a live worker when it executes nowhere (no job, no alive key)", async () => {
    const { run } = await createRun(db.db, projectId, input);
    await claimRun(db.db, projectId, run.id, "w-lively");
    await alive("w-lively");
    const r = reconciler("w-1");
    try {
      expect(await r.pass(clock.later(5_000))).toEqual([run.id]);
      const events = await getRunEvents(db.db, projectId, run.id);
      expect(events.at(-1)?.data).toMatchObject({ from: "running" });
      expect(await queue.getJob(run.id)).toBeDefined();
    } finally {
      await r.stop();
      await cleanup(run.id);
    }
  });

  it("does not report a run re-enqueued when its ended job cannot be removed", async () => {
    const { run } = await createRun(db.db, projectId, input);
    await enqueueRunJob(queue, redis, { ...run, maxAttempts: 1 }, 100);
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const worker = new Worker(RUNS_QUEUE, null, {
      connection,
      prefix,
      name: "w-failing",
      settings: { backoffStrategy: () => 0 },
    });
    const r = reconciler("w-1");
    try {
      const job = await worker.getNextJob("token-1");
      await job?.moveToFailed(new Error("boom"), "token-1", false);
      expect(await queue.getJobState(run.id)).toBe("failed");
      // Someone still holds a lock on it: BullMQ refuses to remove it.
      await redis.set(`${prefix}:${RUNS_QUEUE}:${run.id}:lock`, "someone", "PX", 60_000);
      expect(await r.pass(clock.later(5_000))).toEqual([]);
      const events = await getRunEvents(db.db, projectId, run.id);
      expect(events.map((e) => e.type)).toEqual(["queued"]);
      expect(await queue.getJobState(run.id)).toBe("failed");
      // Once the lock is gone, the next pass replaces the job and says so.
      await redis.del(`${prefix}:${RUNS_QUEUE}:${run.id}:lock`);
      expect(await r.pass(clock.later(5_000))).toEqual([run.id]);
      expect(["waiting", "prioritized"]).toContain(await queue.getJobState(run.id));
      expect((await getRunEvents(db.db, projectId, run.id)).map((e) => e.type)).toEqual(["queued", "requeued"]);
    } finally {
      await r.stop();
      await worker.close(true);
      connection.disconnect();
      await cleanup(run.id);
    }
  });

  it("says whether an add really added a job", async () => {
    const { run } = await createRun(db.db, projectId, input);
    try {
      expect(await enqueueRunJob(queue, redis, { ...run }, 100)).toBe("added");
      expect(await enqueueRunJob(queue, redis, { ...run }, 100)).toBe("exists");
    } finally {
      await cleanup(run.id);
    }
  });

  it("never lets two reconcilers both hold the lease: one that changed hands while renewing is lost", async () => {
    const { run } = await createRun(db.db, projectId, input);
    const lease = reconcilerLeaseKey(prefix);
    // A connection on which, just before the holder's renewal reaches Redis, its lease expires and
    // another reconciler takes it (the interleaving a get-then-pexpire renewal cannot rule out).
    const racy = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    let handOver: (() => Promise<void>) | undefined;
    for (const command of ["pexpire", "eval"] as const) {
      const original = (racy as any)[command].bind(racy);
      (racy as any)[command] = async (...args: unknown[]) => {
        const hook = handOver;
        if (hook && args.includes(lease)) {
          handOver = undefined;
          await hook();
        }
        return original(...args);
      };
    }
    const first = reconciler("w-first", racy);
    const second = reconciler("w-second");
    try {
      await redis.del(lease);
      expect(await first.pass(clock.later(5_000))).toEqual([run.id]);
      await (await queue.getJob(run.id))?.remove();
      handOver = async () => {
        await redis.set(lease, "w-second", "PX", 30_000);
      };
      // The first reconciler does nothing, and does not extend the other's lease.
      expect(await first.pass(clock.later(5_000))).toEqual([]);
      expect(handOver).toBeUndefined();
      expect(await redis.get(lease)).toBe("w-second");
      expect(await redis.pttl(lease)).toBeLessThanOrEqual(30_000);
      expect(await second.pass(clock.later(5_000))).toEqual([run.id]);
      // A stopping holder releases its lease; a non-holder cannot.
      await first.stop();
      expect(await redis.get(lease)).toBe("w-second");
      await second.stop();
      expect(await redis.exists(lease)).toBe(0);
    } finally {
      await first.stop();
      await second.stop();
      racy.disconnect();
      await cleanup(run.id);
    }
  });
});
