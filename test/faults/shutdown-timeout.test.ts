/**
 * Fault: SIGTERM to a busy worker whose runs last longer than SHUTDOWN_TIMEOUT_MS, under load (two
 * workers, four runs of ~15 s: long enough that "exits within seconds" and "waited for its runs"
 * stay far apart on a loaded machine). The worker drains for 1 s, aborts what is left, hands those runs
 * back to the queue and exits 0 within seconds; the other worker finishes them. A hand-back is not
 * a failure and not a retry.
 */

import {
  audit,
  chromiumPidsOf,
  createFaultStack,
  eventTrail,
  type FaultStack,
  runningRunsOf,
  waitForPidsGone,
  waitForRunsInFlight,
} from "@conveyor/testing/faults";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import type { Proc } from "@conveyor/testing/processes";
import { slowRecording } from "@conveyor/testing/recordings";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** How long each run lasts, ms. */
const RUN_MS = 15_000;

let site: FixtureSite;
let fault: FaultStack;
let leaving: Proc;
let staying: Proc;

beforeAll(async () => {
  site = await startFixtureSite();
  fault = await createFaultStack("f-shutdown", { env: { SHUTDOWN_TIMEOUT_MS: "1000", WORKER_CONCURRENCY: "2" } });
  await fault.startApi();
  await fault.stack.createProject("faults");
  [leaving, staying] = await Promise.all([fault.startWorker("w-leaving"), fault.startWorker("w-staying")]);
});

afterAll(async () => {
  await fault?.stop();
  await site?.close();
});

describe("SIGTERM with runs longer than the shutdown timeout", () => {
  it("the worker exits 0 within seconds; its runs are handed back and passed by the other", {
    timeout: 120_000,
  }, async () => {
    const runIds: string[] = [];
    for (let i = 0; i < 4; i++) runIds.push(await fault.submit(slowRecording(site.url, RUN_MS)));
    await waitForRunsInFlight(fault.db, "w-leaving", 2);
    const held = await runningRunsOf(fault.db, "w-leaving");
    const browser = chromiumPidsOf(leaving.child.pid ?? 0);
    expect(browser.length).toBeGreaterThan(0);

    const signalledAt = Date.now();
    leaving.kill("SIGTERM");
    const exit = await leaving.exited;
    const exitedAfterMs = Date.now() - signalledAt;
    expect(exit, leaving.output().slice(-3000)).toEqual({ code: 0, signal: null });
    // Drain deadline (1 s) plus the hand-back and closing (~3 s here, more on a busy machine), not
    // the runs' 15 s.
    expect(exitedAfterMs).toBeLessThan(RUN_MS - 5000);
    expect(leaving.output()).toMatch(/shutdown timeout: handing active runs back/);
    expect(leaving.output()).toMatch(/shutdown complete/);
    // It closed its browser on the way out.
    await waitForPidsGone(browser, 5000);

    const summary = await audit(fault.db, runIds, { timeoutMs: 90_000, queue: fault });
    expect(summary.statuses).toEqual({ passed: 4 });

    const handedBack = [...summary.runs.values()].filter((run) => run.events.some((e) => e.type === "handed_back"));
    expect(handedBack.map((r) => r.id).sort()).toEqual([...held].sort());
    for (const run of handedBack) {
      const trail = eventTrail(run);
      expect(trail, trail.join(" ")).toEqual([
        "queued#0",
        "started#1@w-leaving",
        "handed_back#1@w-leaving",
        "started#2@w-staying",
        "finished#2@w-staying",
      ]);
      const event = run.events.find((e) => e.type === "handed_back");
      expect(event?.data.reason).toBe("worker shutting down");
    }
    // No hand-back was counted as a retry; nothing else happened to the other runs.
    for (const run of summary.runs.values()) {
      expect(run.events.some((e) => e.type === "retry_scheduled")).toBe(false);
      if (!handedBack.includes(run)) expect(run.attempt).toBe(1);
    }
    expect(staying.child.exitCode).toBeNull();
  });
});
