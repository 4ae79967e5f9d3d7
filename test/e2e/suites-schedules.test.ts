/**
 * Suites and schedules with real processes (API, two workers, Chromium, the fixture site): a
 * suite run of three recordings of which one fails ends `failed` with its three runs, in order;
 * a schedule every two seconds fires once per scheduled time, its runs pass, and pausing it stops
 * the runs while its fire log goes on saying why.
 */
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { waitFor } from "@conveyor/testing/processes";
import { loginRecording } from "@conveyor/testing/recordings";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
let site: FixtureSite;

beforeAll(async () => {
  site = await startFixtureSite();
  stack = await createStack("suites");
  await stack.startApi({ SCHEDULE_MIN_INTERVAL_S: "1" });
  await Promise.all([
    stack.startWorker("w-suites-a", { WORKER_CONCURRENCY: "2" }),
    stack.startWorker("w-suites-b", { WORKER_CONCURRENCY: "2" }),
  ]);
  await stack.createProject("suites");
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

describe("a suite run", () => {
  it("of three recordings, one failing, ends failed with its three runs in order", async () => {
    const ids = [
      await storeRecording(loginRecording(site.url)),
      await storeRecording(loginRecording(site.url, "wrong")),
      await storeRecording(loginRecording(site.url)),
    ];
    const suite = await stack.request("POST", "/api/suites", { name: "login", recordingIds: ids });
    expect(suite.status, JSON.stringify(suite.body)).toBe(201);
    const started = await stack.request("POST", `/api/suites/${suite.body.id}/runs`, {
      ci: { commit: "e2e", branch: "main" },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const done = await waitFor(
      async () => {
        const body = (await stack.request("GET", `/api/suite-runs/${started.body.id}`)).body;
        return ["passed", "failed", "cancelled"].includes(body.status) ? body : undefined;
      },
      { timeoutMs: 90_000, what: "the suite run to finish" },
    );
    expect(done.status).toBe("failed");
    expect(done.runs.map((r: { recordingId: string }) => r.recordingId)).toEqual(ids);
    expect(done.runs.map((r: { status: string }) => r.status)).toEqual(["passed", "failed", "passed"]);
    expect(done.counts).toMatchObject({ passed: 2, failed: 1, queued: 0, running: 0 });
    const listed = await stack.request("GET", "/api/suite-runs?ciCommit=e2e");
    expect(listed.body.items.map((s: { id: string }) => s.id)).toEqual([started.body.id]);
  });
});

describe("a schedule", () => {
  it("every two seconds fires once per scheduled time, its runs pass, and pausing it stops them", async () => {
    const recordingId = await storeRecording(loginRecording(site.url));
    const created = await stack.request("POST", "/api/schedules", {
      name: "every 2 s",
      recordingId,
      everySeconds: 2,
      overlap: "skip",
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const scheduleId = created.body.id as string;
    const fires = async () =>
      (await stack.request("GET", `/api/schedules/${scheduleId}/fires?limit=100`)).body.items as {
        scheduledAt: string;
        outcome: string;
        runId: string | null;
        reason: string | null;
      }[];
    await waitFor(async () => ((await fires()).filter((f) => f.outcome === "started").length >= 3 ? true : undefined), {
      timeoutMs: 60_000,
      what: "three started fires",
    });
    const paused = await stack.request("POST", `/api/schedules/${scheduleId}/pause`, { reason: "e2e pause" });
    expect(paused.status).toBe(200);
    expect(paused.body.paused).toBe(true);
    const log = (await fires()).reverse(); // oldest first
    const times = log.map((f) => Date.parse(f.scheduledAt));
    for (let i = 1; i < times.length; i++) expect((times[i] ?? 0) - (times[i - 1] ?? 0)).toBe(2000);
    expect(new Set(times).size).toBe(times.length);
    for (const fire of log) expect(["started", "skipped_overlap"]).toContain(fire.outcome);
    const started = log.filter((f) => f.outcome === "started");
    for (const fire of started) {
      const run = await stack.waitForRun(fire.runId ?? "", ["passed", "failed", "errored", "cancelled"], 60_000);
      expect(run.status).toBe("passed");
      expect(run.scheduleId).toBe(scheduleId);
    }
    // Paused: the next scheduled times are logged skipped_paused with the reason, and start nothing.
    const pausedFire = await waitFor(async () => (await fires()).find((f) => f.outcome === "skipped_paused"), {
      timeoutMs: 20_000,
      what: "a fire logged skipped_paused",
    });
    expect(pausedFire.reason).toBe("e2e pause");
    const [{ n }] = (await stack.db.query<{ n: number }>("select count(*)::int as n from runs where schedule_id = $1", [
      scheduleId,
    ])) as [{ n: number }];
    // One run per started fire, none for the paused ones.
    expect(n).toBe((await fires()).filter((f) => f.outcome === "started").length);
  });
});
