/**
 * Fault: the API dies between committing a run and enqueueing its job (the test-only fail point
 * `api.after-commit-before-enqueue` SIGKILLs the process there). The client sees a dropped
 * connection; the run sits `queued` with no job. A worker's reconciler finds it and enqueues it,
 * and it runs once, to the end.
 */

import { audit, createFaultStack, eventTrail, type FaultStack, resilientQuery } from "@conveyor/testing/faults";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import type { Proc } from "@conveyor/testing/processes";
import { loginRecording } from "@conveyor/testing/recordings";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let site: FixtureSite;
let fault: FaultStack;
let worker: Proc;

beforeAll(async () => {
  site = await startFixtureSite();
  fault = await createFaultStack("f-apicrash");
  // A plain API first, to create the project; then the one with the fail point.
  const plain = await fault.startApi();
  await fault.stack.createProject("faults");
  plain.kill("SIGTERM");
  await plain.exited;
  worker = await fault.startWorker("w-reconciler", { WORKER_CONCURRENCY: "1" });
});

afterAll(async () => {
  await fault?.stop();
  await site?.close();
});

describe("API killed between commit and enqueue", () => {
  it("the committed run is enqueued by the reconciler and passes once", async () => {
    const api = await fault.startApi({ FAILPOINTS: "api.after-commit-before-enqueue" });

    // The client's request dies with the process: no answer at all.
    await expect(fault.request("POST", "/api/runs", { recording: loginRecording(site.url) }, 10_000)).rejects.toThrow();
    const exit = await api.exited;
    expect(exit.signal).toBe("SIGKILL");
    // Its log line announcing the fail point is written out before the kill (flushLoggerSync).
    expect(api.output()).toMatch(/fail point reached: crashing on purpose/);

    // The row committed; the job never existed.
    const rows = await resilientQuery<{ id: string; status: string; attempt: number }>(
      fault.db,
      "select id, status, attempt from runs",
    );
    expect(rows).toHaveLength(1);
    const [row] = rows;
    if (!row) throw new Error("no run row");
    expect(row).toMatchObject({ status: "queued", attempt: 0 });
    expect(await fault.jobExists(row.id)).toBe(false);
    expect(await fault.pendingJobs()).toBe(0);

    // Back without the fail point (the client would retry; the reconciler does not need it to).
    await fault.startApi();
    const summary = await audit(fault.db, [row.id], { timeoutMs: 30_000, queue: fault });
    expect(summary.statuses).toEqual({ passed: 1 });
    const run = summary.runs.get(row.id);
    expect(eventTrail(run)).toEqual([
      "queued#0",
      "requeued#0@w-reconciler",
      "started#1@w-reconciler",
      "finished#1@w-reconciler",
    ]);
    const requeued = run?.events.find((e) => e.type === "requeued");
    expect(typeof requeued?.data.reason).toBe("string");
    // It was the reconciler that enqueued it (the trail above), not a client retry or stall
    // detection: how soon is bounded only by the audit's 30 s (grace 4 s + one reconcile interval
    // 1 s + the run typically), not by a wall-clock assertion.

    // The restarted API enqueues as usual; that run is not touched by the reconciler.
    const next = await fault.submit(loginRecording(site.url));
    const final = await audit(fault.db, [row.id, next], { timeoutMs: 30_000, queue: fault });
    expect(eventTrail(final.runs.get(next))).toEqual(["queued#0", "started#1@w-reconciler", "finished#1@w-reconciler"]);
    expect(worker.child.exitCode).toBeNull();
  });
});
