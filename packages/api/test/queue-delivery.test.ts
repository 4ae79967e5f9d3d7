/**
 * A submitted run's job is delivered after the 202, not before it: the committed `queued` row is
 * the promise (the reconciler enqueues a run whose job never arrived), so the reply does not wait
 * for Redis. These tests hold Redis's writes with `CLIENT PAUSE … WRITE` on a private
 * redis-server and show what that changes and what it must not: the reply comes at once, the job
 * still arrives, in order; a slow Redis makes submitters wait once too many jobs are pending; a
 * cancel or a shutdown waits for the job that is still on its way.
 */
import { RUNS_QUEUE } from "@conveyor/core";
import { type RedisServer, startRedisServer, stopAllRedisServers } from "@conveyor/testing/faults";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createRunQueue, type RunQueue } from "../src/queue.ts";
import { auth, createProjectViaApi, createTestApp, sampleRecording, type TestApp } from "./helpers.ts";

let server: RedisServer;
/** Only pauses and unpauses: a client with a write of its own held by the pause could not unpause. */
let control: Redis;
/** The inspecting queues' connection (they skip BullMQ's metadata write, which a pause would hold). */
let admin: Redis;
let connection: Redis;
let n = 0;

beforeAll(async () => {
  server = await startRedisServer();
  control = new Redis(server.url);
  admin = new Redis(server.url);
  connection = new Redis(server.url, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  await control?.call("CLIENT", "UNPAUSE").catch(() => undefined);
  control?.disconnect();
  admin?.disconnect();
  connection?.disconnect();
  await stopAllRedisServers();
});

beforeEach(async () => {
  await control.call("CLIENT", "UNPAUSE");
});

/** Holds every write (BullMQ's scripts included) until unpause; reads still answer. */
const pauseWrites = () => control.call("CLIENT", "PAUSE", "60000", "WRITE");
const unpause = () => control.call("CLIENT", "UNPAUSE");

function freshQueue(options: { maxPendingDeliveries?: number; closeTimeoutMs?: number } = {}) {
  n += 1;
  const prefix = `cvt-delivery-${n}`;
  const queue = createRunQueue(connection, { prefix, policy: { attempts: 3, backoffMs: 1000 }, ...options });
  const inspect = new Queue(RUNS_QUEUE, { connection: admin, prefix, skipMetasUpdate: true });
  return { queue, inspect };
}

/** The queue's start-up writes (metadata, scripts) are done before a test pauses writes. */
async function ready(queue: RunQueue, inspect: Queue): Promise<void> {
  await inspect.waitUntilReady();
  await queue.enqueue(run("run_warm"));
}

/** Whether `promise` settles within `ms`. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([promise.then(() => true as const), timeout]);
  clearTimeout(timer);
  return result;
}

const run = (id: string, priority = 5) => ({ id, projectId: "prj_delivery", priority });

describe("RunQueue.deliver", () => {
  it("returns without waiting for Redis; the jobs arrive in order once it answers, and settle() waits for them", async () => {
    const { queue, inspect } = freshQueue();
    try {
      await ready(queue, inspect);
      await pauseWrites();
      const errors: unknown[] = [];
      for (const id of ["run_d1", "run_d2", "run_d3"]) {
        expect(
          await settlesWithin(
            queue.deliver(run(id), (e) => errors.push(e)),
            200,
          ),
        ).toBe(true);
      }
      const settled = queue.settle();
      expect(await settlesWithin(settled, 300)).toBe(false);
      expect(await inspect.getJob("run_d1")).toBeUndefined();
      await unpause();
      await settled;
      expect(errors).toEqual([]);
      const jobs = await inspect.getJobs(["prioritized"]);
      expect(jobs.map((j) => j.id).sort()).toEqual(["run_d1", "run_d2", "run_d3", "run_warm"]);
      // FIFO within a priority: BullMQ's prioritized set orders them by insertion.
      const order = await inspect.getPrioritized(0, -1);
      expect(order.map((j) => j.id)).toEqual(["run_warm", "run_d1", "run_d2", "run_d3"]);
    } finally {
      await unpause();
      await queue.close();
      await inspect.obliterate({ force: true });
      await inspect.close();
    }
  });

  it("makes the caller wait once maxPendingDeliveries jobs are waiting for Redis (back-pressure)", async () => {
    const { queue, inspect } = freshQueue({ maxPendingDeliveries: 2 });
    try {
      await ready(queue, inspect);
      await pauseWrites();
      expect(
        await settlesWithin(
          queue.deliver(run("run_p1"), () => {}),
          200,
        ),
      ).toBe(true);
      expect(
        await settlesWithin(
          queue.deliver(run("run_p2"), () => {}),
          200,
        ),
      ).toBe(true);
      const third = queue.deliver(run("run_p3"), () => {});
      expect(await settlesWithin(third, 500)).toBe(false);
      await unpause();
      await third;
      expect(await inspect.getJob("run_p3")).toBeDefined();
      // Once Redis has caught up, a delivery returns at once again.
      await pauseWrites();
      expect(
        await settlesWithin(
          queue.deliver(run("run_p4"), () => {}),
          200,
        ),
      ).toBe(true);
    } finally {
      await unpause();
      await queue.close();
      await inspect.obliterate({ force: true });
      await inspect.close();
    }
  });

  it("hands a refused job to onError (the run stays for the reconciler)", async () => {
    const dead = new Redis("redis://127.0.0.1:1", {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    dead.on("error", () => {});
    const queue = createRunQueue(dead, { prefix: "cvt-delivery-dead", policy: { attempts: 3, backoffMs: 1000 } });
    queue.queue.on("error", () => {});
    const errors: unknown[] = [];
    await queue.deliver(run("run_refused"), (e) => errors.push(e));
    await queue.settle();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(Error);
    await queue.close().catch(() => undefined);
    dead.disconnect();
  });

  it("withdraw waits for a delivery of the same run still under way, so no job is left behind", async () => {
    const { queue, inspect } = freshQueue();
    try {
      await ready(queue, inspect);
      await pauseWrites();
      await queue.deliver(run("run_w1"), () => {});
      const withdrawn = queue.withdraw("run_w1");
      expect(await settlesWithin(withdrawn, 300)).toBe(false);
      await unpause();
      expect(await withdrawn).toBe(true);
      expect(await inspect.getJob("run_w1")).toBeUndefined();
    } finally {
      await unpause();
      await queue.close();
      await inspect.obliterate({ force: true });
      await inspect.close();
    }
  });

  it("close waits for deliveries under way (up to closeTimeoutMs) before closing", async () => {
    const { queue, inspect } = freshQueue({ closeTimeoutMs: 10_000 });
    try {
      await ready(queue, inspect);
      await pauseWrites();
      await queue.deliver(run("run_c1"), () => {});
      const closed = queue.close();
      expect(await settlesWithin(closed, 300)).toBe(false);
      await unpause();
      await closed;
      expect(await inspect.getJob("run_c1")).toBeDefined();
    } finally {
      await unpause();
      await inspect.obliterate({ force: true });
      await inspect.close();
    }
  });

  it("close gives up after closeTimeoutMs when Redis does not answer", async () => {
    const { queue, inspect } = freshQueue({ closeTimeoutMs: 300 });
    try {
      await ready(queue, inspect);
      await pauseWrites();
      await queue.deliver(run("run_t1"), () => {});
      const closed = queue.close();
      expect(await settlesWithin(closed, 150)).toBe(false);
      // Still paused: close returns once it has waited closeTimeoutMs; the run is the reconciler's.
      expect(await settlesWithin(closed, 3_000)).toBe(true);
    } finally {
      await unpause();
      await inspect.obliterate({ force: true });
      await inspect.close();
    }
  });
});

describe("POST /api/runs with Redis's writes held", () => {
  let t: TestApp;
  let inspect: Queue;
  const prefix = "cvt-delivery-route";
  const queue = () => createRunQueue(connection, { prefix, policy: { attempts: 3, backoffMs: 1000 } });
  let routeQueue: ReturnType<typeof queue>;

  beforeAll(async () => {
    routeQueue = queue();
    t = await createTestApp("delivery-route", { queue: routeQueue });
    inspect = new Queue(RUNS_QUEUE, { connection: admin, prefix, skipMetasUpdate: true });
  });

  afterAll(async () => {
    await unpause();
    await t?.close();
    await routeQueue?.close();
    await inspect?.obliterate({ force: true });
    await inspect?.close();
  });

  it("answers 202 with the run committed while its job waits for Redis; the job follows", async () => {
    const project = await createProjectViaApi(t.app, "held");
    const submit = () =>
      t.app.inject({
        method: "POST",
        url: "/api/runs",
        headers: auth(project.apiKey),
        payload: { recording: sampleRecording("held") },
      });
    expect((await submit()).statusCode).toBe(202); // warm: BullMQ's scripts are loaded
    await pauseWrites();
    const response = await submit();
    expect(response.statusCode, response.body).toBe(202);
    const id = response.json().id as string;
    const rows = await t.db.query<{ status: string }>("select status from runs where id = $1", [id]);
    expect(rows).toEqual([{ status: "queued" }]);
    expect(await inspect.getJob(id)).toBeUndefined();
    await unpause();
    await routeQueue.settle();
    expect((await inspect.getJob(id))?.data).toEqual({ runId: id, projectId: project.id });
  });
});
