/**
 * Fault: a worker is SIGKILLed while it executes runs, under load (two workers, eight runs). Its
 * runs go back to the queue — through stall detection once their locks expire, or through the
 * reconciler once the worker's liveness key expires, whichever comes first — and the surviving
 * worker completes them as attempt 2. Nothing accepted is lost, nothing finishes twice.
 * (test/faults/worker-liveness.test.ts pins down the liveness path on its own.)
 */

import {
  audit,
  chromiumPidsOf,
  createFaultStack,
  eventTrail,
  type FaultStack,
  waitForPidsGone,
  waitForRunsInFlight,
} from "@conveyor/testing/faults";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import type { Proc } from "@conveyor/testing/processes";
import { slowRecording } from "@conveyor/testing/recordings";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let site: FixtureSite;
let fault: FaultStack;
let victim: Proc;
let survivor: Proc;
const browsers: number[] = [];

beforeAll(async () => {
  site = await startFixtureSite();
  fault = await createFaultStack("f-sigkill");
  await fault.startApi();
  await fault.stack.createProject("faults");
  [victim, survivor] = await Promise.all([
    fault.startWorker("w-victim", { WORKER_CONCURRENCY: "2" }),
    fault.startWorker("w-survivor", { WORKER_CONCURRENCY: "2" }),
  ]);
});

afterAll(async () => {
  for (const worker of [victim, survivor]) if (worker?.child.pid) browsers.push(...chromiumPidsOf(worker.child.pid));
  await fault?.stop();
  await site?.close();
  // The killed worker's browser must not outlive it (nor the others' theirs).
  await waitForPidsGone(browsers);
});

describe("worker SIGKILL under load", () => {
  it("the killed worker's runs are completed by the other as attempt 2; every run passes once", async () => {
    const runIds: string[] = [];
    for (let i = 0; i < 8; i++) runIds.push(await fault.submit(slowRecording(site.url, 2000 + (i % 3) * 500)));

    // Kill it while it holds runs that are well under way (their first action row written).
    await waitForRunsInFlight(fault.db, "w-victim", 1);
    browsers.push(...chromiumPidsOf(victim.child.pid ?? 0));
    victim.kill("SIGKILL");
    expect((await victim.exited).signal).toBe("SIGKILL");

    const summary = await audit(fault.db, runIds, { timeoutMs: 60_000, queue: fault });
    expect(summary.statuses).toEqual({ passed: 8 });

    // Runs the victim had claimed and never finished: recovered, exactly once more.
    const recovered = [...summary.runs.values()].filter((run) =>
      run.events.some((e) => e.type === "started" && e.worker === "w-victim" && e.attempt === run.attempt - 1),
    );
    expect(recovered.length).toBeGreaterThanOrEqual(1);
    for (const run of recovered) {
      const trail = eventTrail(run).join(" ");
      expect(run.attempt, trail).toBe(2);
      expect(run.worker, trail).toBe("w-survivor");
      // Handed back by the survivor's reconciler (a requeued event), or moved by stall detection.
      const handedBack = eventTrail(run).includes("requeued#1@w-survivor") ? ["requeued#1@w-survivor"] : [];
      expect(eventTrail(run), trail).toEqual([
        "queued#0",
        "started#1@w-victim",
        ...handedBack,
        "started#2@w-survivor",
        "finished#2@w-survivor",
      ]);
    }
    // Every other run ran once, to the end, on whichever worker took it.
    for (const run of summary.runs.values()) {
      if (recovered.includes(run)) continue;
      expect(run.attempt, eventTrail(run).join(" ")).toBe(1);
    }
    // How fast is measured by `pnpm bench --only recovery` (a wall clock here would only measure
    // the machine's load); the audit's own timeout above bounds it.
    expect(survivor.child.exitCode).toBeNull();
  });
});
