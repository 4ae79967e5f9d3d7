/**
 * Test-level retries with evidence, with real processes (API, a worker, Chromium, the fixture
 * site): a page that fails on its first visit and passes on the second. With `retries: 1` the run
 * executes twice, ends `passed` and `flaky`, and keeps both attempts' evidence (the first one's
 * failing action and its screenshot); with `retries: 0` it ends `failed`. A suite run with a flaky
 * child is `flaky`; a quarantined recording's failure neither fails its suite run nor stops it
 * (failFast).
 */
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { waitFor } from "@conveyor/testing/processes";
import { flakyRecording, loginRecording } from "@conveyor/testing/recordings";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
let site: FixtureSite;

beforeAll(async () => {
  site = await startFixtureSite();
  stack = await createStack("flaky-retries");
  await stack.startApi();
  await stack.startWorker("w-flaky", { WORKER_CONCURRENCY: "2" });
  await stack.createProject("flaky-retries");
});

afterAll(async () => {
  await stack?.stop();
  await site?.close();
});

async function storeRecording(recording: unknown): Promise<string> {
  const response = await stack.request("POST", "/api/recordings", recording);
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body.id as string;
}

async function runSuite(suiteId: string) {
  const started = await stack.request("POST", `/api/suites/${suiteId}/runs`, {});
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  return waitFor(
    async () => {
      const view = (await stack.request("GET", `/api/suite-runs/${started.body.id}`)).body;
      return view.counts.queued + view.counts.running === 0 ? view : undefined;
    },
    { timeoutMs: 120_000, what: "the suite run to finish" },
  );
}

describe("test-level retries", () => {
  it("retries a failed attempt: passed, flaky, both attempts' evidence kept", async () => {
    const submitted = await stack.request("POST", "/api/runs", {
      recording: flakyRecording(site.url, "single"),
      retries: 1,
    });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    expect(submitted.body).toMatchObject({ retries: 1, testFailures: 0, flaky: false });
    const run = await stack.waitForRun(submitted.body.id, ["passed", "failed", "errored"], 90_000);
    expect(run.status).toBe("passed");
    expect(run).toMatchObject({ flaky: true, retries: 1, testFailures: 1, attempt: 2, quarantined: false });
    expect(site.visits("single")).toBe(2);

    expect(run.attempts.map((a: { attempt: number; status: string }) => [a.attempt, a.status])).toEqual([
      [1, "retried"],
      [2, "passed"],
    ]);
    const [first, second] = run.attempts;
    expect(first).toMatchObject({
      worker: "w-flaky",
      failedActionIndex: 1,
      counts: { passed: 1, failed: 1, skipped: 0 },
      error: { kind: "test_failure", actionIndex: 1 },
    });
    expect(first.durationMs).toBeGreaterThan(0);
    expect(first.actions.map((a: { status: string }) => a.status)).toEqual(["passed", "failed"]);
    expect(first.actions[0].pageUrl).toContain("/flaky?key=single");
    expect(second.error).toBeNull();
    expect(second.actions.map((a: { status: string }) => a.status)).toEqual(["passed", "passed"]);
    // The run's own `actions` are its last attempt's.
    expect(run.actions.map((a: { status: string }) => a.status)).toEqual(["passed", "passed"]);

    // The first attempt's failure screenshot, under its own attempt.
    const screenshotUrl: string = first.actions[1].screenshotUrl;
    expect(screenshotUrl).toContain(`/api/runs/${run.id}/artifacts/1/`);
    const screenshot = await fetch(`${stack.apiUrl}${screenshotUrl}`, {
      headers: { authorization: `Bearer ${stack.apiKey}` },
    });
    expect(screenshot.status).toBe(200);
    expect(screenshot.headers.get("content-type")).toContain("image/png");
    expect((await screenshot.arrayBuffer()).byteLength).toBeGreaterThan(100);

    const events = (await stack.request("GET", `/api/runs/${run.id}/events`)).body.items ?? [];
    const retry = (events as { type: string; attempt: number; data: Record<string, unknown> }[]).find(
      (e) => e.type === "retry_scheduled",
    );
    expect(retry).toMatchObject({ attempt: 1, data: { testFailure: true, kind: "test_failure", actionIndex: 1 } });
  });

  it("without retries a failed attempt fails the run", async () => {
    const submitted = await stack.request("POST", "/api/runs", { recording: flakyRecording(site.url, "no-retry") });
    expect(submitted.status).toBe(202);
    const run = await stack.waitForRun(submitted.body.id, ["passed", "failed", "errored"], 90_000);
    expect(run).toMatchObject({ status: "failed", flaky: false, retries: 0, testFailures: 0, attempt: 1 });
    expect(run.attempts.map((a: { status: string }) => a.status)).toEqual(["failed"]);
    expect(site.visits("no-retry")).toBe(1);
  });

  it("stats over the last runs of a stored recording show the flaky rate and the last failure", async () => {
    const recordingId = await storeRecording(flakyRecording(site.url, "stored", 2));
    const ids: string[] = [];
    // 1st run, no retry: fails (visit 1). 2nd, one retry: fails (visit 2), then passes (visit 3): flaky.
    for (const retries of [0, 1]) {
      const submitted = await stack.request("POST", "/api/runs", { recordingId, retries });
      ids.push(submitted.body.id);
      await stack.waitForRun(submitted.body.id, ["passed", "failed", "errored"], 90_000);
    }
    const stats = await stack.request("GET", `/api/recordings/${recordingId}/stats?runs=10`);
    expect(stats.status, JSON.stringify(stats.body)).toBe(200);
    expect(stats.body).toMatchObject({
      source: "runs",
      runs: 2,
      passed: 1,
      failed: 1,
      flaky: 1,
      passRate: 0.5,
      flakyRate: 0.5,
      lastFailure: { runId: ids[0], actionIndex: 1, actionType: "assert" },
    });
    expect(stats.body.p50DurationMs).toBeGreaterThan(0);
  });
});

describe("suites", () => {
  it("a suite run with a flaky child and the others passing is flaky", async () => {
    const flaky = await storeRecording(flakyRecording(site.url, "suite-child"));
    const login = await storeRecording(loginRecording(site.url));
    const suite = await stack.request("POST", "/api/suites", {
      name: "flaky suite",
      recordingIds: [flaky, login],
      defaults: { retries: 1 },
    });
    expect(suite.status, JSON.stringify(suite.body)).toBe(201);
    const done = await runSuite(suite.body.id);
    expect(done.status).toBe("flaky");
    expect(done.counts).toMatchObject({ passed: 2, failed: 0, flaky: 1 });
    expect(done.runs.map((r: { flaky: boolean }) => r.flaky)).toEqual([true, false]);
  });

  it("a quarantined recording's failure leaves its suite run passed and does not fail it fast", async () => {
    const broken = await storeRecording(flakyRecording(site.url, "quarantined", 1000));
    const login = await storeRecording(loginRecording(site.url));
    const other = await storeRecording(flakyRecording(site.url, "never-fails", 0));
    const until = new Date(Date.now() + 86_400_000).toISOString();
    const quarantined = await stack.request("POST", `/api/recordings/${broken}/quarantine`, {
      reason: "known broken",
      expiresAt: until,
    });
    expect(quarantined.status, JSON.stringify(quarantined.body)).toBe(200);
    expect(quarantined.body.quarantine).toMatchObject({ reason: "known broken", until });
    const suite = await stack.request("POST", "/api/suites", {
      name: "with a quarantined one",
      recordingIds: [broken, login, other],
      failFast: true,
      maxParallel: 1,
    });
    expect(suite.status, JSON.stringify(suite.body)).toBe(201);
    const done = await runSuite(suite.body.id);
    expect(done.runs.map((r: { status: string; quarantined: boolean }) => [r.status, r.quarantined])).toEqual([
      ["failed", true],
      ["passed", false],
      ["passed", false],
    ]);
    expect(done.status).toBe("passed");
    expect(done.failedFastAt).toBeNull();
    expect(done.counts).toMatchObject({ failed: 1, quarantined: 1, passed: 2, cancelled: 0 });

    // Lifted: the same failure fails the suite run fast again.
    expect((await stack.request("DELETE", `/api/recordings/${broken}/quarantine`)).body.quarantine).toBeNull();
    const again = await runSuite(suite.body.id);
    expect(again.status).toBe("failed");
    expect(again.failedFastAt).not.toBeNull();
    expect(again.runs.map((r: { status: string }) => r.status)).toEqual(["failed", "cancelled", "cancelled"]);
  });
});
