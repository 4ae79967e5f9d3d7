/**
 * Worker lifecycle with real processes: SIGTERM drains, a run longer than the drain is handed
 * back and finished elsewhere, a SIGKILLed worker's run is recovered by another after stall
 * detection. Each ends with an audit of the database: one terminal state, no duplicate rows.
 */

import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { type Proc, waitFor } from "@conveyor/testing/processes";
import { expectEventsProjectToRow } from "@conveyor/testing/projection";
import { slowRecording } from "@conveyor/testing/recordings";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
let site: FixtureSite;
const workers: Proc[] = [];

// Fast stall detection so a dead worker's run is recovered within seconds.
const FAST_STALLS = { WORKER_LOCK_DURATION_MS: "3000", WORKER_STALLED_INTERVAL_MS: "1000", WORKER_CONCURRENCY: "1" };

beforeAll(async () => {
  site = await startFixtureSite();
  stack = await createStack("lifecycle");
  await stack.startApi();
  await stack.createProject("lifecycle");
});

afterEach(async () => {
  for (const worker of workers.splice(0)) {
    worker.kill("SIGKILL");
    await worker.exited;
  }
});

afterAll(async () => {
  await stack?.stop();
  await site?.close();
});

async function startWorker(name: string, extra: Record<string, string>): Promise<Proc> {
  const worker = await stack.startWorker(name, { ...FAST_STALLS, ...extra });
  workers.push(worker);
  return worker;
}

async function submitSlowRun(ms: number): Promise<string> {
  const response = await stack.request("POST", "/api/runs", { recording: slowRecording(site.url, ms) });
  expect(response.status).toBe(202);
  return response.body.id;
}

/** The database's view of a finished run: exactly one terminal event, no duplicate action rows. */
async function audit(runId: string) {
  const runs = await stack.db.query<{ status: string; attempt: number; actions_total: number }>(
    "select status, attempt, actions_total from runs where id = $1",
    [runId],
  );
  const events = await stack.db.query<{ type: string; attempt: number; worker: string | null; data: unknown }>(
    "select type, attempt, worker, data from run_events where run_id = $1 order by id",
    [runId],
  );
  const duplicates = await stack.db.query(
    "select attempt, index, count(*) from run_actions where run_id = $1 group by attempt, index having count(*) > 1",
    [runId],
  );
  const run = runs[0];
  if (!run) throw new Error(`run ${runId} is missing`);
  const finalActions = await stack.db.query<{ status: string }>(
    "select status from run_actions where run_id = $1 and attempt = $2 order by index",
    [runId, run.attempt],
  );
  expect(duplicates).toEqual([]);
  expect(events.filter((e) => e.type === "finished")).toHaveLength(1);
  await expectEventsProjectToRow(stack.db, runId);
  return { run, events, finalActions };
}

describe("worker lifecycle", () => {
  it("SIGTERM during a run: the run still passes and the worker exits 0", async () => {
    const worker = await startWorker("w-drain", { SHUTDOWN_TIMEOUT_MS: "30000" });
    const runId = await submitSlowRun(2500);
    await stack.waitForRun(runId, ["running"]);

    worker.kill("SIGTERM");
    const exit = await worker.exited;
    expect(exit).toEqual({ code: 0, signal: null });

    const run = await stack.waitForRun(runId, ["passed", "failed", "errored", "cancelled"], 5000);
    expect(run.status).toBe("passed");
    expect(run.worker).toBe("w-drain");
    const { run: row, events, finalActions } = await audit(runId);
    expect(row.attempt).toBe(1);
    expect(events.map((e) => e.type)).toEqual(["queued", "started", "finished"]);
    expect(finalActions).toHaveLength(row.actions_total);
    expect(worker.output()).toMatch(/shutdown complete/);
  });

  it("a run longer than SHUTDOWN_TIMEOUT_MS is handed back and completed by another worker, not failed", async () => {
    const first = await startWorker("w-leaving", { SHUTDOWN_TIMEOUT_MS: "1000" });
    const runId = await submitSlowRun(6000);
    await stack.waitForRun(runId, ["running"]);

    first.kill("SIGTERM");
    const exit = await first.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    // It left at its drain deadline (1 s) without waiting for the run's 6 s: the run is back in
    // the queue, unfinished (had the worker waited, it would have passed on w-leaving).
    const handedBack = await stack.request("GET", `/api/runs/${runId}`);
    expect(handedBack.body.status).toBe("queued");

    await startWorker("w-taking-over", {});
    const run = await stack.waitForRun(runId, ["passed", "failed", "errored", "cancelled"], 30_000);
    expect(run.status).toBe("passed");
    expect(run.worker).toBe("w-taking-over");
    expect(run.attempt).toBe(2);

    const { events, finalActions } = await audit(runId);
    expect(events.map((e) => [e.type, e.worker])).toEqual([
      ["queued", null],
      ["started", "w-leaving"],
      ["handed_back", "w-leaving"],
      ["started", "w-taking-over"],
      ["finished", "w-taking-over"],
    ]);
    expect(finalActions.map((a) => a.status)).toEqual(["passed", "passed", "passed"]);
  });

  it("SIGKILL during a run: another worker completes it; one terminal state, no duplicate rows", async () => {
    const doomed = await startWorker("w-doomed", {});
    const runId = await submitSlowRun(4000);
    await stack.waitForRun(runId, ["running"]);
    // Let the first action's row land so the recovered attempt has something it could duplicate.
    await waitFor(
      async () => {
        const rows = await stack.db.query("select 1 from run_actions where run_id = $1", [runId]);
        return rows.length > 0 ? true : undefined;
      },
      { what: "the first action row" },
    );

    doomed.kill("SIGKILL");
    expect((await doomed.exited).signal).toBe("SIGKILL");
    await startWorker("w-rescuer", {});

    const run = await stack.waitForRun(runId, ["passed", "failed", "errored", "cancelled"], 40_000);
    expect(run.status).toBe("passed");
    expect(run.worker).toBe("w-rescuer");
    expect(run.attempt).toBe(2);
    const { events, finalActions } = await audit(runId);
    expect(events.map((e) => [e.type, e.worker])).toEqual([
      ["queued", null],
      ["started", "w-doomed"],
      ["started", "w-rescuer"],
      ["finished", "w-rescuer"],
    ]);
    expect(finalActions).toHaveLength(3);
  });

  it("a second signal exits at once", async () => {
    const worker = await startWorker("w-impatient", { SHUTDOWN_TIMEOUT_MS: "60000" });
    const runId = await submitSlowRun(20_000);
    await stack.waitForRun(runId, ["running"]);
    worker.kill("SIGTERM");
    await worker.waitForOutput(/shutting down/);
    worker.kill("SIGTERM");
    const exit = await worker.exited;
    expect(exit.code).toBe(130);
    // At once, not after the run's 20 s: the worker left the run behind unfinished (judged by the
    // run's own record, not by a wall clock; had it waited for the run, the run would be passed).
    const [abandoned] = await stack.db.query<{ status: string; finished_at: Date | null }>(
      "select status, finished_at from runs where id = $1",
      [runId],
    );
    expect(abandoned?.finished_at).toBeNull();
    expect(["running", "queued"]).toContain(abandoned?.status);
    // The abandoned run is recovered by stall detection like any dead worker's.
    await startWorker("w-after-impatient", {});
    const run = await stack.waitForRun(runId, ["passed", "failed", "errored", "cancelled"], 60_000);
    expect(run.status).toBe("passed");
  });
});
