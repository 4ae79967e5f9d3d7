/**
 * Fault: the worker's Chromium is SIGKILLed mid-run. That is an infrastructure error (transient):
 * the run is retried at once as attempt 2 in a replacement browser and passes; the worker itself
 * keeps serving. A run whose browser dies at every attempt is not retried forever: after
 * MAX_RETRIES + 1 attempts it ends `errored` and dead-lettered.
 */

import {
  audit,
  chromiumPidsOf,
  createFaultStack,
  eventTrail,
  type FaultStack,
  killAll,
  resilientQuery,
  waitForPidsGone,
  waitForRunsInFlight,
} from "@conveyor/testing/faults";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { type Proc, waitFor } from "@conveyor/testing/processes";
import { loginRecording, slowRecording } from "@conveyor/testing/recordings";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let site: FixtureSite;
let fault: FaultStack;
let worker: Proc;
const browsers: number[] = [];

beforeAll(async () => {
  site = await startFixtureSite();
  fault = await createFaultStack("f-browser");
  await fault.startApi();
  await fault.stack.createProject("faults");
  worker = await fault.startWorker("w-browser", { WORKER_CONCURRENCY: "1" });
});

afterAll(async () => {
  if (worker?.child.pid) browsers.push(...chromiumPidsOf(worker.child.pid));
  await fault?.stop();
  await site?.close();
  await waitForPidsGone(browsers);
});

describe("browser killed mid-run", () => {
  it("the run is retried in a new browser and passes on attempt 2; the worker keeps serving", async () => {
    const runId = await fault.submit(slowRecording(site.url, 4000));
    // Mid-run: the page is open and the run waits on it.
    await waitForRunsInFlight(fault.db, "w-browser", 1);
    const killed = chromiumPidsOf(worker.child.pid ?? 0);
    expect(killed.length, "the worker's Chromium processes").toBeGreaterThan(0);
    killAll(killed);
    await waitForPidsGone(killed, 5000);

    const summary = await audit(fault.db, [runId], { timeoutMs: 30_000, queue: fault });
    expect(summary.statuses).toEqual({ passed: 1 });
    const run = summary.runs.get(runId);
    expect(run?.attempt).toBe(2);
    expect(eventTrail(run)).toEqual([
      "queued#0",
      "started#1@w-browser",
      "retry_scheduled#1@w-browser",
      "started#2@w-browser",
      "finished#2@w-browser",
    ]);
    const retry = run?.events.find((e) => e.type === "retry_scheduled");
    expect(retry?.data.kind).toBe("transient");

    // The worker survived and replaced its browser.
    expect(worker.child.exitCode, worker.output().slice(-3000)).toBeNull();
    const replacement = await waitFor(
      async () => {
        const pids = chromiumPidsOf(worker.child.pid ?? 0);
        return pids.length > 0 ? pids : undefined;
      },
      { what: "a replacement Chromium" },
    );
    expect(replacement.filter((pid) => killed.includes(pid))).toEqual([]);
    browsers.push(...replacement);

    // And it keeps serving: a second run passes at its first attempt.
    const second = await fault.submit(loginRecording(site.url));
    const final = await audit(fault.db, [runId, second], { timeoutMs: 30_000, queue: fault });
    expect(final.statuses).toEqual({ passed: 2 });
    expect(final.attempts[second]).toBe(1);
  });

  it("a run whose browser dies at every attempt ends errored after MAX_RETRIES + 1 attempts, dead-lettered", async () => {
    const runId = await fault.submit(slowRecording(site.url, 20_000));
    const maxAttempts = 4; // MAX_RETRIES=3 (FAST_RECOVERY)
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      await waitFor(
        async () => {
          const rows = await resilientQuery(
            fault.db,
            `select 1 from runs r where r.id = $1 and r.status = 'running' and r.attempt = $2
                and exists (select 1 from run_actions a where a.run_id = r.id and a.attempt = r.attempt)`,
            [runId, attempt],
          );
          return rows.length > 0 ? true : undefined;
        },
        { what: `attempt ${attempt} in flight` },
      );
      const pids = chromiumPidsOf(worker.child.pid ?? 0);
      expect(pids.length).toBeGreaterThan(0);
      killAll(pids);
      await waitForPidsGone(pids, 5000);
    }

    const summary = await audit(fault.db, [runId], { timeoutMs: 30_000, queue: fault, exhaustive: false });
    const run = summary.runs.get(runId);
    const trail = eventTrail(run);
    expect(run?.status, trail.join(" ")).toBe("errored");
    expect(run?.attempt).toBe(maxAttempts);
    expect(run?.error_kind).toBe("transient");
    expect(run?.error_message).toMatch(/^gave up after 4 attempt\(s\): /);
    expect(run?.dead_lettered).toBe(true);
    expect(trail.filter((e) => e.startsWith("retry_scheduled"))).toHaveLength(maxAttempts - 1);
    expect(trail.at(-1)).toBe(`finished#${maxAttempts}@w-browser`);

    const deadLetters = await fault.request("GET", "/api/dead-letters");
    expect(deadLetters.status).toBe(200);
    expect(deadLetters.body.items.map((r: { id: string }) => r.id)).toEqual([runId]);

    // Still serving afterwards.
    expect(worker.child.exitCode, worker.output().slice(-3000)).toBeNull();
    const next = await fault.submit(loginRecording(site.url));
    const final = await audit(fault.db, [next], { timeoutMs: 30_000, queue: fault, exhaustive: false });
    expect(final.statuses).toEqual({ passed: 1 });
    browsers.push(...chromiumPidsOf(worker.child.pid ?? 0));
  });
});
