/**
 * The autoscaling series of `GET /metrics` (conveyor_run_demand, conveyor_worker_slots,
 * conveyor_run_demand_per_slot) through `app.inject`, on real Postgres and Redis: a job a real
 * BullMQ worker holds counts as demand though the backlog is 0; slots come from heartbeats written
 * in the workers' format, an unhealthy worker's excepted; no slot means no ratio.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  encodeHeartbeat,
  HEALTH_RULES,
  RUNS_QUEUE,
  type WorkerHeartbeat,
  workerKey,
  workersIndexKey,
} from "@conveyor/core";
import { Worker } from "bullmq";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { createTestApp, REDIS_URL, type TestApp } from "./helpers.ts";

let current: TestApp | undefined;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await current?.close();
  current = undefined;
});

async function open(label: string): Promise<TestApp> {
  current = await createTestApp(label);
  return current;
}

/** Writes a heartbeat exactly as a worker does (hash + index), `ageMs` old. */
async function writeHeartbeat(t: TestApp, name: string, concurrency: number, ageMs = 0): Promise<void> {
  const now = Date.now();
  const heartbeat: WorkerHeartbeat = {
    name,
    host: "host-a",
    pid: 1,
    concurrency,
    activeRuns: 0,
    processed: 0,
    succeeded: 0,
    failed: 0,
    recentFinished: 0,
    recentErrored: 0,
    eventLoopLagP99Ms: 1,
    startedAt: new Date(now - 60_000),
    heartbeatAt: new Date(now - ageMs),
    intervalMs: 1000,
  };
  const key = workerKey(t.prefix, name);
  await t.redis
    .multi()
    .hset(key, encodeHeartbeat(heartbeat))
    .pexpire(key, heartbeat.intervalMs * HEALTH_RULES.ttlIntervals)
    .zadd(workersIndexKey(t.prefix), heartbeat.heartbeatAt.getTime(), name)
    .exec();
}

/** The value of one sample of the exposition, or undefined when the series has no such sample. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function metrics(t: TestApp): Promise<string> {
  const response = await t.app.inject({ method: "GET", url: "/metrics" });
  expect(response.statusCode).toBe(200);
  return response.body;
}

const DEMAND = 'conveyor_run_demand{queue="runs"}';
const PER_SLOT = 'conveyor_run_demand_per_slot{queue="runs"}';
const SLOTS = "conveyor_worker_slots";
const BACKLOG = 'conveyor_queue_backlog{queue="runs"}';

/**
 * A real BullMQ worker on the app's queue that takes `count` jobs and holds them (active) until
 * released: a run in progress, as far as the queue can tell.
 */
async function holdJobs(t: TestApp, count: number): Promise<void> {
  const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let taken = 0;
  const worker = new Worker(
    RUNS_QUEUE,
    async () => {
      taken += 1;
      await released;
    },
    { connection, prefix: t.prefix, concurrency: count },
  );
  cleanups.push(async () => {
    release();
    await worker.close();
    connection.disconnect();
  });
  while (taken < count) await sleep(20);
}

describe("the autoscaling demand series", () => {
  it("counts jobs held by a worker as demand while the backlog is 0, and divides by the live slots", async () => {
    const t = await open("demand-active");
    await writeHeartbeat(t, "w-1", 2);
    await writeHeartbeat(t, "w-2", 2);
    let text = await metrics(t);
    expect(sample(text, DEMAND)).toBe(0);
    expect(sample(text, SLOTS)).toBe(4);
    expect(sample(text, PER_SLOT)).toBe(0);

    for (const id of ["run_a1", "run_a2", "run_a3"]) await t.runQueue.enqueue({ id, projectId: "prj_x", priority: 5 });
    await holdJobs(t, 3);
    text = await metrics(t);
    // Nothing waits: the backlog alone would let an autoscaler remove the busy pods.
    expect(sample(text, BACKLOG)).toBe(0);
    expect(sample(text, 'conveyor_queue_jobs{queue="runs",state="active"}')).toBe(3);
    expect(sample(text, DEMAND)).toBe(3);
    expect(sample(text, PER_SLOT)).toBe(0.75);

    // Queued and running add up.
    await t.runQueue.enqueue({ id: "run_q1", projectId: "prj_x", priority: 5 });
    await t.runQueue.enqueue({ id: "run_q2", projectId: "prj_x", priority: 5 });
    text = await metrics(t);
    expect(sample(text, BACKLOG)).toBe(2);
    expect(sample(text, DEMAND)).toBe(5);
    expect(sample(text, PER_SLOT)).toBe(1.25);
  });

  it("leaves an unhealthy worker's slots out, and has no ratio without a slot", async () => {
    const t = await open("demand-slots");
    await t.runQueue.enqueue({ id: "run_w1", projectId: "prj_x", priority: 5 });
    // A retry in its backoff is not demand yet.
    await t.inspectQueue.add("run", { runId: "run_later", projectId: "prj_x" }, { jobId: "run_later", delay: 60_000 });
    let text = await metrics(t);
    expect(sample(text, DEMAND)).toBe(1);
    expect(sample(text, SLOTS)).toBe(0);
    expect(sample(text, PER_SLOT)).toBeUndefined();
    expect(text).toContain("# TYPE conveyor_run_demand_per_slot gauge");

    // Silent for more than 3 intervals: unhealthy, its slots serve nothing.
    await writeHeartbeat(t, "w-late", 4, 3_500);
    await writeHeartbeat(t, "w-ok", 2);
    text = await metrics(t);
    expect(sample(text, 'conveyor_workers{status="unhealthy"}')).toBe(1);
    expect(sample(text, SLOTS)).toBe(2);
    expect(sample(text, PER_SLOT)).toBe(0.5);
  });
});
