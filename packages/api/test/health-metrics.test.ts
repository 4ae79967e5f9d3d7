/**
 * Health and metrics endpoints through `app.inject`, on real Postgres and Redis: who may read
 * them, how heartbeats written in the workers' format are judged, and what the backlog counts.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { encodeHeartbeat, HEALTH_RULES, type WorkerHeartbeat, workerKey, workersIndexKey } from "@conveyor/core";
import { afterEach, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, createTestApp, type TestApp } from "./helpers.ts";

const METRICS_TOKEN = "metrics-token-0123456789";

let current: TestApp | undefined;
afterEach(async () => {
  await current?.close();
  current = undefined;
});

async function open(label: string, overrides: Parameters<typeof createTestApp>[1] = {}): Promise<TestApp> {
  current = await createTestApp(label, overrides);
  return current;
}

/** Writes a heartbeat exactly as a worker does (hash + index). */
async function writeHeartbeat(t: TestApp, heartbeat: WorkerHeartbeat): Promise<void> {
  const key = workerKey(t.prefix, heartbeat.name);
  await t.redis
    .multi()
    .hset(key, encodeHeartbeat(heartbeat))
    .pexpire(key, heartbeat.intervalMs * HEALTH_RULES.ttlIntervals)
    .zadd(workersIndexKey(t.prefix), heartbeat.heartbeatAt.getTime(), heartbeat.name)
    .exec();
}

function heartbeat(name: string, ageMs: number, overrides: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat {
  return {
    name,
    host: "host-a",
    pid: 1234,
    concurrency: 2,
    activeRuns: 1,
    processed: 7,
    succeeded: 6,
    failed: 1,
    recentFinished: 7,
    recentErrored: 1,
    eventLoopLagP99Ms: 3,
    lastError: "browser closed",
    lastErrorAt: new Date(Date.now() - 60_000),
    startedAt: new Date(Date.now() - 600_000),
    heartbeatAt: new Date(Date.now() - ageMs),
    intervalMs: 1000,
    ...overrides,
  };
}

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

describe("GET /api/health/detailed and /api/health/worker", () => {
  it("need the admin token by default; liveness and readiness stay public", async () => {
    const t = await open("health-auth");
    for (const url of ["/api/health/detailed", "/api/health/worker"]) {
      const anonymous = await t.app.inject({ method: "GET", url });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json().error.code).toBe("unauthorized");
      const wrong = await t.app.inject({ method: "GET", url, headers: { authorization: "Bearer nope" } });
      expect(wrong.statusCode).toBe(401);
      expect((await t.app.inject({ method: "GET", url, headers: admin })).statusCode).toBe(200);
    }
    expect((await t.app.inject({ method: "GET", url: "/api/health" })).statusCode).toBe(200);
    expect((await t.app.inject({ method: "GET", url: "/api/health/ready" })).statusCode).toBe(200);
  });

  it("are public with HEALTH_PUBLIC, and refused (403) without ADMIN_TOKEN otherwise", async () => {
    const open1 = await open("health-public", { healthPublic: true });
    expect((await open1.app.inject({ method: "GET", url: "/api/health/detailed" })).statusCode).toBe(200);
    expect((await open1.app.inject({ method: "GET", url: "/api/health/worker" })).statusCode).toBe(200);
    await open1.close();
    const closed = await open("health-no-admin", { adminToken: undefined });
    current = closed;
    const response = await closed.app.inject({ method: "GET", url: "/api/health/detailed" });
    expect(response.statusCode).toBe(403);
    expect(response.json().error.message).toContain("ADMIN_TOKEN");
  });

  it("judges heartbeats: late → unhealthy, degraded overall; expired ones leave the list", async () => {
    const t = await open("health-judge");
    await writeHeartbeat(t, heartbeat("w-fresh", 100));
    await writeHeartbeat(t, heartbeat("w-late", 3_500, { activeRuns: 2 }));
    // Listed in the index, but its hash expired: the worker is long gone.
    await t.redis.zadd(workersIndexKey(t.prefix), Date.now() - 60_000, "w-gone");

    const detailed = await t.app.inject({ method: "GET", url: "/api/health/detailed", headers: admin });
    expect(detailed.statusCode).toBe(200);
    const body = detailed.json();
    expect(body).toMatchObject({
      status: "degraded",
      reasons: ["worker w-late is unhealthy"],
      services: { database: { status: "up" }, redis: { status: "up" } },
      queues: { runs: { waiting: 0, prioritized: 0, delayed: 0, active: 0, completed: 0, failed: 0, backlog: 0 } },
    });
    expect(body.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(body.workers.map((w: { name: string; status: string }) => [w.name, w.status])).toEqual([
      ["w-fresh", "healthy"],
      ["w-late", "unhealthy"],
    ]);
    expect(body.workers[0]).toMatchObject({
      host: "host-a",
      pid: 1234,
      concurrency: 2,
      lastError: "browser closed",
      heartbeatIntervalMs: 1000,
    });
    expect((await t.redis.zrange(workersIndexKey(t.prefix), "0", "-1")).sort()).toEqual(["w-fresh", "w-late"]);

    const summary = await t.app.inject({ method: "GET", url: "/api/health/worker", headers: admin });
    expect(summary.statusCode).toBe(200);
    expect(summary.json()).toMatchObject({
      status: "degraded",
      workerCount: 2,
      healthyWorkers: 1,
      degradedWorkers: 0,
      unhealthyWorkers: 1,
      eventsProcessed: 14,
      eventsSucceeded: 12,
      eventsFailed: 2,
      activeEvents: 3,
    });
  });

  it("calls the installation degraded, and the fleet unhealthy (503), when runs wait and no worker is healthy", async () => {
    const t = await open("health-backlog");
    await t.runQueue.enqueue({ id: "run_backlog1", projectId: "prj_x", priority: 5 });
    const detailed = await t.app.inject({ method: "GET", url: "/api/health/detailed", headers: admin });
    expect(detailed.json()).toMatchObject({
      status: "degraded",
      reasons: ["1 run(s) waiting and no healthy worker"],
      queues: { runs: { prioritized: 1, backlog: 1 } },
      workers: [],
    });
    const summary = await t.app.inject({ method: "GET", url: "/api/health/worker", headers: admin });
    expect(summary.statusCode).toBe(503);
    expect(summary.json()).toMatchObject({ status: "unhealthy", workerCount: 0 });
  });
});

describe("GET /metrics", () => {
  it("is refused without METRICS_TOKEN unless METRICS_PUBLIC, and needs the token when set", async () => {
    const closed = await open("metrics-closed", { metricsPublic: false });
    const refused = await closed.app.inject({ method: "GET", url: "/metrics" });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.message).toMatch(/set METRICS_TOKEN .*or METRICS_PUBLIC=true/);
    await closed.close();

    const publicApp = await open("metrics-public", { metricsPublic: true });
    const anonymous = await publicApp.app.inject({ method: "GET", url: "/metrics" });
    expect(anonymous.statusCode).toBe(200);
    expect(anonymous.headers["content-type"]).toMatch(/^text\/plain; version=0\.0\.4/);
    await publicApp.close();

    const guarded = await open("metrics-token", { metricsToken: METRICS_TOKEN });
    current = guarded;
    expect((await guarded.app.inject({ method: "GET", url: "/metrics" })).statusCode).toBe(401);
    // The admin token is not the metrics token.
    expect((await guarded.app.inject({ method: "GET", url: "/metrics", headers: admin })).statusCode).toBe(401);
    const allowed = await guarded.app.inject({
      method: "GET",
      url: "/metrics",
      headers: { authorization: `Bearer ${METRICS_TOKEN}` },
    });
    expect(allowed.statusCode).toBe(200);
    expect(allowed.body).toContain('conveyor_queue_backlog{queue="runs"} 0');
  });

  it("counts due delayed jobs in the backlog, and not-yet-due ones only as delayed", async () => {
    const t = await open("metrics-delayed");
    await t.inspectQueue.add("run", { runId: "run_later", projectId: "prj_x" }, { jobId: "run_later", delay: 60_000 });
    await t.inspectQueue.add("run", { runId: "run_soon", projectId: "prj_x" }, { jobId: "run_soon", delay: 50 });
    await t.runQueue.enqueue({ id: "run_now", projectId: "prj_x", priority: 3 });
    await sleep(100);
    const counts = await t.runQueue.counts();
    // No worker promotes the due job: it is still in `delayed`, and still counted as backlog.
    expect(counts).toMatchObject({ delayed: 2, prioritized: 1, waiting: 0, backlog: 2 });
    const text = (await t.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(text).toContain('conveyor_queue_backlog{queue="runs"} 2');
    expect(text).toContain('conveyor_queue_jobs{queue="runs",state="delayed"} 2');
  });

  it("labels HTTP requests by route pattern, never by raw URL", async () => {
    const t = await open("metrics-http");
    await t.app.inject({ method: "GET", url: "/api/runs/run_doesnotexist" });
    await t.app.inject({ method: "GET", url: "/no/such/route" });
    const text = (await t.app.inject({ method: "GET", url: "/metrics" })).body;
    expect(text).toContain('conveyor_http_requests_total{method="GET",route="/api/runs/:id",status="401"} 1');
    expect(text).toContain('conveyor_http_requests_total{method="GET",route="unmatched",status="404"} 1');
    expect(text).not.toContain("run_doesnotexist");
    expect(text).toMatch(/^conveyor_process_cpu_user_seconds_total /m);
  });
});
