/**
 * Operator visibility end to end, with real processes on Postgres, Redis and Chromium: the
 * autoscaling series follows a backlog up and down, run counters come from the database, worker
 * heartbeats show who is alive (a SIGKILLed worker turns unhealthy, a drained one leaves), and the
 * detailed endpoints need the admin token unless HEALTH_PUBLIC.
 */
import { workerKey } from "@conveyor/core";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { freePort, type Proc, waitFor } from "@conveyor/testing/processes";
import { type Scrape, scrape } from "@conveyor/testing/prometheus";
import { loginRecording } from "@conveyor/testing/recordings";
import { ADMIN_TOKEN, createStack, REDIS_URL, type Stack } from "@conveyor/testing/stack";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
let site: FixtureSite;
let redis: Redis;
const workers: Record<string, Proc> = {};
let workerMetricsPort: number;

// Heartbeats every 500 ms: a dead worker is unhealthy after 1.5 s, gone after 5 s.
const FAST_HEARTBEAT = { HEALTH_CHECK_INTERVAL_MS: "500", WORKER_CONCURRENCY: "2" };
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
const PASSING = 3;
const FAILING = 1;
const TOTAL = PASSING + FAILING;

function failingRecording(siteUrl: string) {
  return {
    name: "fails fast",
    actions: [
      { type: "navigate", url: `${siteUrl}/login` },
      { type: "assert", check: "elementVisible", selector: "#no-such-element", timeoutMs: 300 },
    ],
  };
}

beforeAll(async () => {
  site = await startFixtureSite();
  stack = await createStack("health");
  redis = new Redis(REDIS_URL);
  workerMetricsPort = await freePort();
  await stack.startApi({ METRICS_REPORTING_INTERVAL_MS: "200" });
  await stack.createProject("health");
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
  await site?.close();
});

const apiMetrics = () => scrape(`${stack.apiUrl}/metrics`);

/** Scrapes until `check` passes (counters from Postgres lag by up to one reporting interval). */
async function scrapeUntil(check: (metrics: Scrape) => boolean, what: string): Promise<Scrape> {
  return waitFor(
    async () => {
      const metrics = await apiMetrics();
      return check(metrics) ? metrics : undefined;
    },
    { timeoutMs: 20_000, what },
  );
}

async function detailed(): Promise<any> {
  const response = await stack.request("GET", "/api/health/detailed", undefined, admin);
  expect([200, 503]).toContain(response.status);
  return response.body;
}

/** Detailed health once the workers' heartbeats (up to an interval behind) report every run done. */
async function settledHealth(): Promise<any> {
  return waitFor(
    async () => {
      const body = await detailed();
      const processed = body.workers.reduce((total: number, w: { processed: number }) => total + w.processed, 0);
      const active = body.workers.reduce((total: number, w: { activeRuns: number }) => total + w.activeRuns, 0);
      return processed === TOTAL && active === 0 ? body : undefined;
    },
    { timeoutMs: 15_000, what: "heartbeats to report every run finished" },
  );
}

describe("the autoscaling series and the run counters", () => {
  it("follow a backlog up while no worker runs, and back to 0 once workers drain it", async () => {
    const before = await apiMetrics();
    expect(before.family("conveyor_queue_backlog").type).toBe("gauge");
    expect(before.value("conveyor_queue_backlog", { queue: "runs" })).toBe(0);
    expect((await detailed()).status).toBe("healthy"); // no worker, nothing waiting: idle, not broken

    const ids: string[] = [];
    for (let i = 0; i < PASSING; i++) {
      const response = await stack.request("POST", "/api/runs", { recording: loginRecording(site.url) });
      expect(response.status).toBe(202);
      ids.push(response.body.id);
    }
    const failing = await stack.request("POST", "/api/runs", { recording: failingRecording(site.url) });
    ids.push(failing.body.id);

    // The jobs follow the 202s (the commit is the promise): wait for both counts.
    const backlog = await scrapeUntil(
      (m) =>
        m.value("conveyor_runs", { status: "queued" }) === TOTAL &&
        m.value("conveyor_queue_backlog", { queue: "runs" }) === TOTAL,
      "the queued runs and their jobs to be counted",
    );
    expect(backlog.value("conveyor_queue_backlog", { queue: "runs" })).toBe(TOTAL);
    // Every run carries a priority, so BullMQ keeps them in `prioritized`, not `waiting`.
    expect(backlog.value("conveyor_queue_jobs", { queue: "runs", state: "prioritized" })).toBe(TOTAL);
    expect(backlog.value("conveyor_queue_jobs", { queue: "runs", state: "active" })).toBe(0);
    expect(backlog.value("conveyor_runs_started_total")).toBe(0);
    expect(backlog.family("conveyor_runs_finished_total").type).toBe("counter");
    expect(backlog.value("conveyor_runs_finished_total", { status: "passed" })).toBe(0);
    const waiting = await detailed();
    expect(waiting).toMatchObject({
      status: "degraded",
      reasons: [`${TOTAL} run(s) waiting and no healthy worker`],
      queues: { runs: { prioritized: TOTAL, backlog: TOTAL } },
      workers: [],
    });

    const [workerA, workerB] = await Promise.all([
      stack.startWorker("w-a", { ...FAST_HEARTBEAT, WORKER_METRICS_PORT: String(workerMetricsPort) }),
      stack.startWorker("w-b", FAST_HEARTBEAT),
    ]);
    workers["w-a"] = workerA;
    workers["w-b"] = workerB;
    for (const id of ids) await stack.waitForRun(id, ["passed", "failed", "errored", "cancelled"], 45_000);

    const drained = await scrapeUntil(
      (m) =>
        m.value("conveyor_runs_finished_total", { status: "passed" }) === PASSING &&
        m.value("conveyor_queue_backlog", { queue: "runs" }) === 0,
      "the finished runs to be counted",
    );
    expect(drained.value("conveyor_runs_finished_total", { status: "failed" })).toBe(FAILING);
    expect(drained.value("conveyor_runs_finished_total", { status: "errored" })).toBe(0);
    expect(drained.value("conveyor_runs_finished_total", { status: "cancelled" })).toBe(0);
    expect(drained.value("conveyor_runs_started_total")).toBe(TOTAL);
    expect(drained.value("conveyor_run_attempts_started_total")).toBe(TOTAL);
    expect(drained.value("conveyor_runs", { status: "queued" })).toBe(0);
    expect(drained.value("conveyor_queue_jobs", { queue: "runs", state: "completed" })).toBe(TOTAL);
    expect(drained.value("conveyor_workers", { status: "healthy" })).toBe(2);
    // Request series by route pattern; process metrics under the conveyor_ prefix.
    expect(drained.value("conveyor_http_requests_total", { method: "POST", route: "/api/runs", status: "202" })).toBe(
      TOTAL,
    );
    expect(drained.histograms("conveyor_http_request_duration_seconds", { route: "/api/runs" }).length).toBe(1);
    expect(drained.has("conveyor_process_resident_memory_bytes")).toBe(true);
  });

  it("serves the worker's own duration histograms on WORKER_METRICS_PORT", async () => {
    const health = await settledHealth();
    const processedByA = health.workers.find((w: { name: string }) => w.name === "w-a").processed;
    const metrics = await scrape(`http://127.0.0.1:${workerMetricsPort}/metrics`);
    // One series per way a run ended; together they hold every attempt this worker finished.
    const runs = metrics.histograms("conveyor_run_duration_seconds");
    expect(runs.reduce((total, series) => total + series.count, 0)).toBe(processedByA);
    for (const series of runs) {
      expect(["passed", "failed"]).toContain(series.labels.status);
      expect(series.buckets["+Inf"]).toBe(series.count);
      expect(series.sum).toBeGreaterThan(0);
    }
    const navigations = metrics.histograms("conveyor_action_duration_seconds", { type: "navigate", status: "passed" });
    expect(navigations.length).toBe(processedByA > 0 ? 1 : 0);
    expect(metrics.has("conveyor_nodejs_eventloop_lag_seconds")).toBe(true);
  });
});

describe("worker heartbeats", () => {
  it("list both workers healthy, with counters that add up to the runs", async () => {
    const health = await settledHealth();
    expect(health.status).toBe("healthy");
    expect(health.workers.map((w: { name: string; status: string }) => [w.name, w.status])).toEqual([
      ["w-a", "healthy"],
      ["w-b", "healthy"],
    ]);
    for (const worker of health.workers) {
      expect(worker).toMatchObject({ concurrency: 2, activeRuns: 0, heartbeatIntervalMs: 500, failed: 0 });
      expect(worker.pid).toBe(workers[worker.name]?.child.pid);
      // What "healthy" means: its last heartbeat is less than 3 intervals old.
      expect(worker.heartbeatAgeMs).toBeLessThan(3 * worker.heartbeatIntervalMs);
    }
    const summary = await stack.request("GET", "/api/health/worker", undefined, admin);
    expect(summary.status).toBe(200);
    expect(summary.body).toMatchObject({
      status: "healthy",
      workerCount: 2,
      healthyWorkers: 2,
      degradedWorkers: 0,
      unhealthyWorkers: 0,
      eventsProcessed: TOTAL,
      // A failing test is a verdict: the worker did its job.
      eventsSucceeded: TOTAL,
      eventsFailed: 0,
      activeEvents: 0,
    });
    const metrics = await apiMetrics();
    expect(metrics.value("conveyor_worker_active_runs", { worker: "w-a" })).toBe(0);
    expect(metrics.value("conveyor_worker_active_runs", { worker: "w-b" })).toBe(0);
  });

  it("turn a SIGKILLed worker unhealthy after 3 missed intervals, and the installation degraded", async () => {
    const victim = workers["w-b"];
    if (!victim) throw new Error("w-b is not running");
    // Taken before the kill: its last heartbeat is at most one interval (0.5 s) older than this,
    // so it cannot turn unhealthy (3 intervals) sooner than 1 s after. Measuring after `exited`
    // would add however late the exit event arrives on a loaded machine.
    const killedAt = Date.now();
    victim.kill("SIGKILL");
    await victim.exited;
    const health = await waitFor(
      async () => {
        const body = await detailed();
        return body.workers.find((w: { name: string; status: string }) => w.name === "w-b" && w.status === "unhealthy")
          ? body
          : undefined;
      },
      // Typically ~1.5 s; the wait is long for a loaded machine (how soon is not what is tested).
      { timeoutMs: 15_000, what: "w-b to turn unhealthy" },
    );
    // Not before its heartbeat is 3 intervals (1.5 s) old.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(900);
    expect(health.status).toBe("degraded");
    expect(health.reasons).toEqual(["worker w-b is unhealthy"]);
    expect(health.workers.find((w: { name: string }) => w.name === "w-a").status).toBe("healthy");

    const summary = await stack.request("GET", "/api/health/worker", undefined, admin);
    expect(summary.body).toMatchObject({
      status: "degraded",
      workerCount: 2,
      healthyWorkers: 1,
      degradedWorkers: 0,
      unhealthyWorkers: 1,
    });
    const metrics = await apiMetrics();
    expect(metrics.value("conveyor_workers", { status: "unhealthy" })).toBe(1);
    expect(metrics.value("conveyor_workers", { status: "healthy" })).toBe(1);
  });

  it("remove a worker that stops gracefully", async () => {
    const worker = workers["w-a"];
    if (!worker) throw new Error("w-a is not running");
    worker.kill("SIGTERM");
    expect((await worker.exited).code).toBe(0);
    expect(await redis.exists(workerKey(stack.prefix, "w-a"))).toBe(0);
    const health = await detailed();
    expect(health.workers.map((w: { name: string }) => w.name)).not.toContain("w-a");
  });
});

describe("who may read health and metrics", () => {
  it("refuses detailed health without the admin token, unless HEALTH_PUBLIC; METRICS_TOKEN guards /metrics", async () => {
    for (const path of ["/api/health/detailed", "/api/health/worker"]) {
      const anonymous = await fetch(`${stack.apiUrl}${path}`);
      expect(anonymous.status).toBe(401);
    }
    expect((await fetch(`${stack.apiUrl}/api/health/ready`)).status).toBe(200);

    const port = await freePort();
    const metricsToken = "metrics-token-0123456789";
    await stack.startApi({ PORT: String(port), HEALTH_PUBLIC: "true", METRICS_TOKEN: metricsToken });
    const url = `http://127.0.0.1:${port}`;
    expect((await fetch(`${url}/api/health/detailed`)).status).toBe(200);
    expect((await fetch(`${url}/api/health/worker`)).status).toBeLessThan(600);
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    const metrics = await scrape(`${url}/metrics`, metricsToken);
    // Another replica, the same database-derived totals.
    await waitFor(
      async () =>
        (await scrape(`${url}/metrics`, metricsToken)).value("conveyor_runs_started_total") === TOTAL
          ? true
          : undefined,
      { timeoutMs: 20_000, what: "the second replica to count runs" },
    );
    expect(metrics.family("conveyor_queue_backlog").type).toBe("gauge");
  });
});
