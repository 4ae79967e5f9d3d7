/**
 * The series the worker autoscaler follows counts the work, not only the queue, end to end with
 * real processes on Postgres, Redis and Chromium: while long runs keep every slot busy and the
 * queue is empty, `conveyor_queue_backlog` says 0 (a backlog-only autoscaler would remove the busy
 * pods) but `conveyor_run_demand` equals the running runs, `conveyor_worker_slots` the fleet's
 * WORKER_CONCURRENCY, and `conveyor_run_demand_per_slot` running / slots. (What the HPA makes
 * of the demand is checked on the manifests, test/deploy/manifests.test.ts.)
 */

import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { waitFor } from "@conveyor/testing/processes";
import { type Scrape, scrape } from "@conveyor/testing/prometheus";
import { slowRecording } from "@conveyor/testing/recordings";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
let site: FixtureSite;

const CONCURRENCY = 2;
const WORKER_ENV = { HEALTH_CHECK_INTERVAL_MS: "500", WORKER_CONCURRENCY: String(CONCURRENCY) };
const RUNS = { queue: "runs" };
/** Long enough to be running for the whole test; the runs are cancelled at the end. */
const RUN_MS = 240_000;

beforeAll(async () => {
  site = await startFixtureSite();
  stack = await createStack("demand");
  await stack.startApi({ METRICS_REPORTING_INTERVAL_MS: "200" });
  await stack.createProject("demand");
  await stack.startWorker("w-1", WORKER_ENV);
});

afterAll(async () => {
  await stack?.stop();
  await site?.close();
});

/** Scrapes the API until `check` passes (heartbeats and the Postgres count lag a little). */
async function scrapeUntil(check: (metrics: Scrape) => boolean, what: string): Promise<Scrape> {
  return waitFor(
    async () => {
      const metrics = await scrape(`${stack.apiUrl}/metrics`);
      return check(metrics) ? metrics : undefined;
    },
    { timeoutMs: 30_000, what },
  );
}

async function submitLongRun(): Promise<string> {
  const response = await stack.request("POST", "/api/runs", { recording: slowRecording(site.url, RUN_MS) });
  expect(response.status).toBe(202);
  return response.body.id;
}

describe("the autoscaling demand", () => {
  it("rises with running runs while the queue is empty, and falls back once they end", async () => {
    const idle = await scrapeUntil((m) => m.value("conveyor_worker_slots") === CONCURRENCY, "the worker's slots");
    for (const name of ["conveyor_run_demand", "conveyor_worker_slots", "conveyor_run_demand_per_slot"]) {
      expect(idle.family(name).type).toBe("gauge");
    }
    expect(idle.value("conveyor_run_demand", RUNS)).toBe(0);
    expect(idle.value("conveyor_run_demand_per_slot", RUNS)).toBe(0);

    const ids: string[] = [];
    // One run at a time: each starts (the queue is empty again), and the demand rises with it.
    for (let running = 1; running <= CONCURRENCY; running++) {
      const id = await submitLongRun();
      ids.push(id);
      await stack.waitForRun(id, ["running"]);
      const busy = await scrapeUntil(
        (m) =>
          m.value("conveyor_queue_jobs", { ...RUNS, state: "active" }) === running &&
          m.value("conveyor_runs", { status: "running" }) === running,
        `${running} run(s) running`,
      );
      // The queue is empty: a backlog-only autoscaler sees nothing to do.
      expect(busy.value("conveyor_queue_backlog", RUNS)).toBe(0);
      expect(busy.value("conveyor_run_demand", RUNS)).toBe(running);
      expect(busy.value("conveyor_worker_slots")).toBe(CONCURRENCY);
      expect(busy.value("conveyor_run_demand_per_slot", RUNS)).toBe(running / CONCURRENCY);
    }

    // One more run has no slot: it waits, and the demand per slot goes above 1.
    ids.push(await submitLongRun());
    const waiting = await scrapeUntil((m) => m.value("conveyor_queue_backlog", RUNS) === 1, "a run waiting");
    expect(waiting.value("conveyor_run_demand", RUNS)).toBe(CONCURRENCY + 1);
    expect(waiting.value("conveyor_run_demand_per_slot", RUNS)).toBe((CONCURRENCY + 1) / CONCURRENCY);

    // A second worker adds its slots and takes the waiting run: the queue is empty again, the
    // demand is unchanged, the demand per slot falls.
    await stack.startWorker("w-2", WORKER_ENV);
    const third = ids[CONCURRENCY] ?? "";
    await stack.waitForRun(third, ["running"]);
    const spread = await scrapeUntil(
      (m) =>
        m.value("conveyor_worker_slots") === 2 * CONCURRENCY &&
        m.value("conveyor_queue_jobs", { ...RUNS, state: "active" }) === CONCURRENCY + 1,
      "the second worker's slots and its run",
    );
    expect(spread.value("conveyor_queue_backlog", RUNS)).toBe(0);
    expect(spread.value("conveyor_run_demand", RUNS)).toBe(CONCURRENCY + 1);
    expect(spread.value("conveyor_run_demand_per_slot", RUNS)).toBe((CONCURRENCY + 1) / (2 * CONCURRENCY));

    // The runs end (cancelled): the demand falls back to 0 with them.
    for (const id of ids) {
      const cancel = await stack.request("POST", `/api/runs/${id}/cancel`);
      expect(cancel.status).toBe(202); // running: the worker ends it
    }
    for (const id of ids) await stack.waitForRun(id, ["cancelled"]);
    const done = await scrapeUntil((m) => m.value("conveyor_run_demand", RUNS) === 0, "the demand to fall to 0");
    expect(done.value("conveyor_run_demand_per_slot", RUNS)).toBe(0);
    expect(done.value("conveyor_worker_slots")).toBe(2 * CONCURRENCY);
  });
});
