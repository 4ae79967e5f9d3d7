/**
 * The walking skeleton end to end, API and worker as separate processes on real Postgres, Redis
 * and Chromium: a passing recording, a failing one with its evidence, tenant isolation.
 */

import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { expectEventsProjectToRow } from "@conveyor/testing/projection";
import { loginRecording } from "@conveyor/testing/recordings";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
let site: FixtureSite;

beforeAll(async () => {
  site = await startFixtureSite();
  stack = await createStack("pipeline");
  await Promise.all([stack.startApi(), stack.startWorker("w-pipeline", { WORKER_CONCURRENCY: "2" })]);
  await stack.createProject("pipeline");
});

afterAll(async () => {
  await stack?.stop();
  await site?.close();
});

describe("a run from POST to result", () => {
  it("passes a passing recording with every action recorded", async () => {
    const submitted = await stack.request("POST", "/api/runs", { recording: loginRecording(site.url) });
    expect(submitted.status).toBe(202);
    expect(submitted.body.status).toBe("queued");
    expect(submitted.headers.get("location")).toBe(`/api/runs/${submitted.body.id}`);

    const run = await stack.waitForRun(submitted.body.id, ["passed", "failed", "errored", "cancelled"]);
    expect(run.status).toBe("passed");
    expect(run.attempt).toBe(1);
    expect(run.worker).toBe("w-pipeline");
    expect(run.counts).toEqual({ total: 6, passed: 6, failed: 0, skipped: 0 });
    expect(run.actions).toHaveLength(6);
    expect(run.actions.map((a: { index: number }) => a.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(run.actions.every((a: { status: string }) => a.status === "passed")).toBe(true);
    expect(run.actions[3].selectorUsed).toContain("login-button");
    expect(run.durationMs).toBeGreaterThan(0);
    expect(new Date(run.finishedAt).getTime()).toBeGreaterThanOrEqual(new Date(run.startedAt).getTime());

    const events = await stack.request("GET", `/api/runs/${run.id}/events`);
    expect(events.body.items.map((e: { type: string }) => e.type)).toEqual(["queued", "started", "finished"]);
    expect(events.body.items[1]).toMatchObject({ attempt: 1, worker: "w-pipeline" });
    await expectEventsProjectToRow(stack.db, run.id);
    // The sensitive password never reaches stored results.
    expect(JSON.stringify(run)).not.toContain("secret");
  });

  it("fails a failing recording at the failing action, with its message and a screenshot", async () => {
    const submitted = await stack.request("POST", "/api/runs", { recording: loginRecording(site.url, "wrong") });
    expect(submitted.status).toBe(202);
    const run = await stack.waitForRun(submitted.body.id, ["passed", "failed", "errored", "cancelled"]);
    expect(run.status).toBe("failed");
    // urlContains "/welcome" is action 4: the wrong password keeps us on /login.
    expect(run.error.actionIndex).toBe(4);
    expect(run.error.kind).toBe("test_failure");
    expect(run.error.message).toMatch(/welcome/);
    expect(run.counts).toEqual({ total: 6, passed: 4, failed: 1, skipped: 0 });
    // Actions after the failing one are not executed.
    expect(run.actions).toHaveLength(5);
    const failing = run.actions[4];
    expect(failing.status).toBe("failed");
    expect(failing.error.message).toBe(run.error.message);
    expect(failing.screenshotUrl).toMatch(new RegExp(`^/api/runs/${run.id}/artifacts/`));

    const screenshot = await fetch(`${stack.apiUrl}${failing.screenshotUrl}`, {
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    expect(screenshot.status).toBe(200);
    expect(screenshot.headers.get("content-type")).toBe("image/png");
    const bytes = Buffer.from(await screenshot.arrayBuffer());
    expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    // A test failure is a normal outcome: one attempt, no retry.
    const events = await stack.request("GET", `/api/runs/${run.id}/events`);
    expect(events.body.items.map((e: { type: string }) => e.type)).toEqual(["queued", "started", "finished"]);
  });

  it("keeps the evidence it was asked for: a screenshot per action and a trace, served to the run's project", async () => {
    const submitted = await stack.request("POST", "/api/runs", {
      recording: loginRecording(site.url),
      options: { screenshots: "every", trace: true },
    });
    expect(submitted.status).toBe(202);
    const run = await stack.waitForRun(submitted.body.id, ["passed", "failed", "errored", "cancelled"]);
    expect(run.status).toBe("passed");
    expect(run.options).toMatchObject({ screenshots: "every", trace: true });
    expect(run.actions.every((a: { screenshotUrl: string | null }) => a.screenshotUrl?.endsWith(".png"))).toBe(true);
    expect(run.artifacts.trace).toMatch(new RegExp(`^/api/runs/${run.id}/artifacts/.+\\.zip$`));
    const trace = await fetch(`${stack.apiUrl}${run.artifacts.trace}`, {
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    expect(trace.status).toBe(200);
    expect(trace.headers.get("content-type")).toBe("application/zip");
    const bytes = Buffer.from(await trace.arrayBuffer());
    expect(bytes.subarray(0, 2).toString()).toBe("PK");
  });

  it("runs a stored recording by id", async () => {
    const stored = await stack.request("POST", "/api/recordings", loginRecording(site.url));
    expect(stored.status).toBe(201);
    const submitted = await stack.request("POST", "/api/runs", { recordingId: stored.body.id, priority: 1 });
    expect(submitted.status).toBe(202);
    const run = await stack.waitForRun(submitted.body.id, ["passed", "failed", "errored", "cancelled"]);
    expect(run).toMatchObject({ status: "passed", recordingId: stored.body.id, priority: 1 });
  });

  it("keeps projects apart: another project's key sees 404s and empty lists", async () => {
    const ownerKey = stack.apiKey;
    const submitted = await stack.request("POST", "/api/runs", { recording: loginRecording(site.url) });
    const recording = await stack.request("POST", "/api/recordings", loginRecording(site.url));
    const runId = submitted.body.id;
    await stack.createProject("intruder");
    try {
      expect((await stack.request("GET", `/api/runs/${runId}`)).status).toBe(404);
      expect((await stack.request("GET", `/api/runs/${runId}/events`)).status).toBe(404);
      expect((await stack.request("POST", `/api/runs/${runId}/cancel`)).status).toBe(404);
      expect((await stack.request("GET", `/api/recordings/${recording.body.id}`)).status).toBe(404);
      expect((await stack.request("GET", "/api/runs")).body.items).toEqual([]);
      expect((await stack.request("GET", "/api/recordings")).body.items).toEqual([]);
    } finally {
      stack.apiKey = ownerKey;
    }
    await stack.waitForRun(runId, ["passed"]);
  });
});
