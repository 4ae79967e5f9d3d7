/**
 * Failure detection by worker liveness, with real processes. Every worker refreshes a liveness key
 * every quarter of WORKER_DEAD_AFTER_MS; the reconciler hands back at once the runs of a worker
 * whose key expired, fenced by attempt. The BullMQ lock is made long here (60 s) so that stall
 * detection cannot act first: whatever is recovered within the audit was recovered by liveness.
 *
 * - A worker frozen (SIGSTOP: its event loop gets no CPU at all, as under heavy starvation) for
 *   less than the threshold is not taken for dead: its run is not taken over and passes once.
 * - A worker SIGKILLed: its run is handed back (a `requeued` event), taken over by the other
 *   worker as attempt 2, and passes once.
 * - A worker frozen for longer than the threshold is taken for dead; when it wakes up, its
 *   late writes are discarded (fenced): the run passes once, as attempt 2 of the other worker.
 */
import { setTimeout as sleep } from "node:timers/promises";
import {
  audit,
  chromiumPidsOf,
  createFaultStack,
  eventTrail,
  type FaultStack,
  resilientQuery,
  waitForPidsGone,
  waitForRunsInFlight,
} from "@conveyor/testing/faults";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { type Proc, waitFor } from "@conveyor/testing/processes";
import { slowRecording } from "@conveyor/testing/recordings";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** WORKER_DEAD_AFTER_MS here: refreshed every 2.5 s, so a freeze of up to ~7 s is survived. */
const DEAD_AFTER_MS = 10_000;
/** A freeze well inside the threshold. */
const SHORT_FREEZE_MS = 4000;

let site: FixtureSite;
let fault: FaultStack;
const workers: Proc[] = [];
const browsers: number[] = [];
/** Every run accepted in this file: each audit covers them all. */
const accepted: string[] = [];

/** Workers by name (started concurrently: `workers` is in the order they became ready). */
const byName = new Map<string, Proc>();

async function startWorker(name: string): Promise<Proc> {
  const worker = await fault.startWorker(name, { WORKER_CONCURRENCY: "1" });
  workers.push(worker);
  byName.set(name, worker);
  return worker;
}

/** The run `worker` holds now (it runs one at a time). */
async function runOf(worker: string): Promise<string> {
  const [runId] = await waitForRunsInFlight(fault.db, worker, 1);
  if (!runId) throw new Error(`no run in flight on ${worker}`);
  return runId;
}

async function waitForHandBack(runId: string): Promise<void> {
  await waitFor(
    async () => {
      const rows = await resilientQuery(fault.db, "select 1 from run_events where run_id = $1 and type = 'requeued'", [
        runId,
      ]);
      return rows.length > 0 ? true : undefined;
    },
    { timeoutMs: 60_000, what: `run ${runId} to be handed back` },
  );
}

beforeAll(async () => {
  site = await startFixtureSite();
  fault = await createFaultStack("f-liveness", {
    env: {
      WORKER_DEAD_AFTER_MS: String(DEAD_AFTER_MS),
      // Long locks: BullMQ's stall detection (the backstop) cannot recover anything within 30 s.
      WORKER_LOCK_DURATION_MS: "60000",
      WORKER_STALLED_INTERVAL_MS: "5000",
    },
  });
  await fault.startApi();
  await fault.stack.createProject("faults");
  await Promise.all([startWorker("w-live-a"), startWorker("w-live-b")]);
});

afterAll(async () => {
  for (const worker of workers) {
    // A worker left stopped would never exit on SIGKILL's behalf of the stack: wake it first.
    if (worker.child.pid && worker.child.exitCode === null) {
      try {
        process.kill(worker.child.pid, "SIGCONT");
      } catch {
        // gone
      }
      browsers.push(...chromiumPidsOf(worker.child.pid));
    }
  }
  await fault?.stop();
  await site?.close();
  await waitForPidsGone(browsers);
});

describe("worker liveness", () => {
  it("a worker frozen for less than the threshold keeps its run: not taken over, passes once", {
    timeout: 180_000,
  }, async () => {
    const a = byName.get("w-live-a");
    if (!a?.child.pid) throw new Error("no worker");
    const runIds = [
      await fault.submit(slowRecording(site.url, 8000)),
      await fault.submit(slowRecording(site.url, 8000)),
    ];
    accepted.push(...runIds);
    const held = await runOf("w-live-a");

    process.kill(a.child.pid, "SIGSTOP");
    await sleep(SHORT_FREEZE_MS);
    process.kill(a.child.pid, "SIGCONT");

    const summary = await audit(fault.db, accepted, { timeoutMs: 90_000, queue: fault });
    expect(summary.statuses).toEqual({ passed: accepted.length });
    const run = summary.runs.get(held);
    expect(eventTrail(run)).toEqual(["queued#0", "started#1@w-live-a", "finished#1@w-live-a"]);
    for (const id of runIds) expect(summary.attempts[id], eventTrail(summary.runs.get(id)).join(" ")).toBe(1);
  });

  it("a SIGKILLed worker's run is handed back by liveness and passed once by the other worker", {
    timeout: 180_000,
  }, async () => {
    const a = byName.get("w-live-a");
    if (!a?.child.pid) throw new Error("no worker");
    const runIds = [
      await fault.submit(slowRecording(site.url, 15_000)),
      await fault.submit(slowRecording(site.url, 15_000)),
    ];
    accepted.push(...runIds);
    const orphan = await runOf("w-live-a");

    browsers.push(...chromiumPidsOf(a.child.pid));
    a.kill("SIGKILL");
    expect((await a.exited).signal).toBe("SIGKILL");

    const summary = await audit(fault.db, accepted, { timeoutMs: 90_000, queue: fault });
    expect(summary.statuses).toEqual({ passed: accepted.length });
    const run = summary.runs.get(orphan);
    const trail = eventTrail(run);
    // Handed back by the reconciler (the lock, 60 s, had not expired): fenced on attempt 1.
    expect(trail, trail.join(" ")).toEqual([
      "queued#0",
      "started#1@w-live-a",
      "requeued#1@w-live-b",
      "started#2@w-live-b",
      "finished#2@w-live-b",
    ]);
    expect(run?.events.find((e) => e.type === "requeued")?.data).toMatchObject({
      from: "running",
      deadWorker: "w-live-a",
    });
  });

  it("a worker frozen past the threshold is taken for dead; its late writes are discarded", {
    timeout: 180_000,
  }, async () => {
    const c = await startWorker("w-live-c");
    if (!c.child.pid) throw new Error("no worker");
    // Long enough that the frozen worker, once awake, still has its run to finish and write.
    const runIds = [
      await fault.submit(slowRecording(site.url, 12_000)),
      await fault.submit(slowRecording(site.url, 12_000)),
    ];
    accepted.push(...runIds);
    const taken = await runOf("w-live-c");

    process.kill(c.child.pid, "SIGSTOP");
    await waitForHandBack(taken);
    // Taken over by the other worker before the zombie wakes.
    await waitFor(
      async () => {
        const rows = await resilientQuery<{ worker: string; attempt: number }>(
          fault.db,
          "select worker, attempt from runs where id = $1",
          [taken],
        );
        return rows[0]?.attempt === 2 ? true : undefined;
      },
      { timeoutMs: 60_000, what: `run ${taken} to start again` },
    );
    process.kill(c.child.pid, "SIGCONT");

    const summary = await audit(fault.db, accepted, { timeoutMs: 90_000, queue: fault });
    expect(summary.statuses).toEqual({ passed: accepted.length });
    const run = summary.runs.get(taken);
    const trail = eventTrail(run);
    expect(trail, trail.join(" ")).toEqual([
      "queued#0",
      "started#1@w-live-c",
      "requeued#1@w-live-b",
      "started#2@w-live-b",
      "finished#2@w-live-b",
    ]);
    // The woken worker finished its attempt and was told it no longer owns the run.
    await c.waitForOutput(/a newer attempt owns this run/, 60_000);
    expect(c.child.exitCode, c.output().slice(-2000)).toBeNull();
    // Nothing from its attempt 1 landed after the hand-back: the stored result is attempt 2's.
    expect(run?.attempt).toBe(2);
  });
});
