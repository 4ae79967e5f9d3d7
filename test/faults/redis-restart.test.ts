/**
 * Fault: Redis, without persistence, is SIGKILLed mid-load and restarted empty on the same port.
 * Every queued job is gone; the runs are not (Postgres holds them). The API and workers
 * reconnect, runs that were executing finish, and the reconciler re-enqueues the runs whose job
 * was lost. A run submitted while Redis is down is accepted (202) and runs too. And when a worker
 * dies during the outage, its runs — `running`, with neither a job nor a live holder — are put
 * back by the reconciler and completed elsewhere.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  audit,
  chromiumPidsOf,
  createFaultStack,
  eventTrail,
  type FaultStack,
  type RedisServer,
  resilientQuery,
  startRedisServer,
  stopAllRedisServers,
  waitForPidsGone,
  waitForRunsInFlight,
} from "@conveyor/testing/faults";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { type Proc, waitFor } from "@conveyor/testing/processes";
import { slowRecording } from "@conveyor/testing/recordings";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let site: FixtureSite;
let redis: RedisServer;
let fault: FaultStack;
let workers: Proc[] = [];
/** Every run accepted in this file: each test's audit covers them all (the counts add up). */
const accepted: string[] = [];

beforeAll(async () => {
  site = await startFixtureSite();
  redis = await startRedisServer();
  fault = await createFaultStack("f-redis", { redis });
  await fault.startApi();
  await fault.stack.createProject("faults");
  workers = await Promise.all([
    fault.startWorker("w-redis-a", { WORKER_CONCURRENCY: "2" }),
    fault.startWorker("w-redis-b", { WORKER_CONCURRENCY: "2" }),
  ]);
});

afterAll(async () => {
  await fault?.stop();
  await stopAllRedisServers();
  await site?.close();
});

describe("Redis killed and restarted empty, mid-load", () => {
  it("every accepted run passes; lost jobs are re-enqueued by the reconciler", async () => {
    const runIds: string[] = [];
    for (let i = 0; i < 10; i++) runIds.push(await fault.submit(slowRecording(site.url, 3000)));
    // Some running (four slots), the rest waiting in the queue.
    await waitForRunsInFlight(fault.db, "w-redis-a", 1);
    await waitForRunsInFlight(fault.db, "w-redis-b", 1);

    await redis.kill("SIGKILL");
    const downSince = Date.now();

    // Accepted while Redis is down: the row is the promise, the reconciler delivers it.
    const whileDown = await fault.request("POST", "/api/runs", { recording: slowRecording(site.url, 500) }, 15_000);
    expect(redis.pid(), "Redis is still down").toBeUndefined();
    expect(whileDown.status, JSON.stringify(whileDown.body)).toBe(202);
    expect(whileDown.body.status).toBe("queued");
    runIds.push(whileDown.body.id);

    // Down for a couple of seconds in all. A job fetched just before the kill is claimed in
    // Postgres shortly after it (no Redis needed); once that settled, runs of the first ten never
    // claimed are those whose job died with Redis. (A claim slower than that, right after the
    // restart, is fine too: the reconciler then logs no requeue for it, checked below.)
    await sleep(Math.max(0, 2000 - (Date.now() - downSince)));
    const lost = (
      await resilientQuery<{ id: string }>(
        fault.db,
        "select id from runs where status = 'queued' and attempt = 0 and id = any($1)",
        [runIds.slice(0, 10)],
      )
    ).map((r) => r.id);
    expect(lost.length, "some runs were still waiting when Redis died").toBeGreaterThan(0);
    // Back, empty, on the same port.
    await redis.restart();

    // The API reconnects: readiness recovers and a new run is enqueued the ordinary way.
    await waitFor(
      async () =>
        (await fault.request("GET", "/api/health/ready", undefined, 5000)).status === 200 ? true : undefined,
      { timeoutMs: 20_000, what: "API readiness after the Redis restart" },
    );
    runIds.push(await fault.submit(slowRecording(site.url, 500)));

    accepted.push(...runIds);
    const summary = await audit(fault.db, runIds, { timeoutMs: 90_000, queue: fault });
    expect(summary.statuses).toEqual({ passed: runIds.length });

    // Each run whose job died with Redis was re-enqueued by the reconciler before it started.
    for (const id of lost) {
      const run = summary.runs.get(id);
      const trail = eventTrail(run);
      const requeued = trail.findIndex((e) => e.startsWith("requeued"));
      expect(requeued, trail.join(" ")).toBeGreaterThan(0);
      expect(requeued, trail.join(" ")).toBeLessThan(trail.findIndex((e) => e.startsWith("started")));
      const event = run?.events.find((e) => e.type === "requeued");
      expect(typeof event?.data.reason, trail.join(" ")).toBe("string");
    }
    // And no run's log says "requeued" (from queued) once it was started: the reconciler writes
    // that event only while the run is still queued (a worker may claim it from a job fetched
    // before the kill while the reconciler re-adds one).
    for (const run of summary.runs.values()) {
      const trail = eventTrail(run);
      const started = trail.findIndex((e) => e.startsWith("started"));
      const requeuedFromQueued = run.events.findIndex((e) => e.type === "requeued" && e.data.from === "queued");
      if (started >= 0 && requeuedFromQueued >= 0) expect(requeuedFromQueued, trail.join(" ")).toBeLessThan(started);
    }
    // Both workers survived the outage and served runs after it.
    for (const worker of workers) expect(worker.child.exitCode, worker.output().slice(-2000)).toBeNull();
    const startedAfter = await resilientQuery<{ worker: string }>(
      fault.db,
      "select distinct worker from run_events where type = 'started' and created_at > $1",
      [new Date(downSince + 2000).toISOString()],
    );
    expect(startedAfter.map((r) => r.worker).sort()).toEqual(["w-redis-a", "w-redis-b"]);
  });

  it("a worker that dies while Redis is down: its running runs are put back and passed by another", async () => {
    const doomed = await fault.startWorker("w-redis-doomed", { WORKER_CONCURRENCY: "1" });
    const runIds: string[] = [];
    // Five slots in all (2 + 2 + 1), five runs: the doomed worker takes one.
    for (let i = 0; i < 5; i++) runIds.push(await fault.submit(slowRecording(site.url, 3000)));
    accepted.push(...runIds);
    const [orphan] = await waitForRunsInFlight(fault.db, "w-redis-doomed", 1);

    const browser = chromiumPidsOf(doomed.child.pid ?? 0);
    await redis.kill("SIGKILL");
    doomed.kill("SIGKILL");
    expect((await doomed.exited).signal).toBe("SIGKILL");
    await redis.restart();

    const summary = await audit(fault.db, accepted, { timeoutMs: 60_000, queue: fault });
    expect(summary.statuses).toEqual({ passed: accepted.length });
    const run = summary.runs.get(orphan ?? "");
    const trail = eventTrail(run);
    // Back to queued by the reconciler (fenced on attempt 1), then a surviving worker's attempt 2.
    expect(trail.slice(0, 3), trail.join(" ")).toEqual([
      "queued#0",
      "started#1@w-redis-doomed",
      expect.stringMatching(/^requeued#1@w-redis-[ab]$/),
    ]);
    expect(trail.slice(3), trail.join(" ")).toEqual([
      expect.stringMatching(/^started#2@w-redis-[ab]$/),
      expect.stringMatching(/^finished#2@w-redis-[ab]$/),
    ]);
    expect(run?.events.find((e) => e.type === "requeued")?.data.from).toBe("running");
    for (const worker of workers) expect(worker.child.exitCode, worker.output().slice(-2000)).toBeNull();
    // The dead worker's browser did not outlive it.
    await waitForPidsGone(browser);
  });
});
