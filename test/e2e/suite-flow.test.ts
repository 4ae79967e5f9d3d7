/**
 * A suite's flow with real processes (API, two workers of two slots each, Chromium, the fixture
 * site): with maxParallel 1 its four runs execute one after the other, each starting after the
 * previous one finished, and all pass, one of them typing a sensitive suite variable that is
 * stored sealed and never answered; with failFast a first run that fails cancels the three that
 * had not started, and the suite run is failed.
 */
import { isSealed } from "@conveyor/core";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { waitFor } from "@conveyor/testing/processes";
import { loginRecording } from "@conveyor/testing/recordings";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
let site: FixtureSite;

beforeAll(async () => {
  site = await startFixtureSite();
  stack = await createStack("suite-flow");
  await stack.startApi();
  await Promise.all([
    stack.startWorker("w-flow-a", { WORKER_CONCURRENCY: "2" }),
    stack.startWorker("w-flow-b", { WORKER_CONCURRENCY: "2" }),
  ]);
  await stack.createProject("suite-flow");
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

/** Logs in with the sensitive variable `${PASSWORD}`: passes only when the run was given `secret`. */
function variableLogin(siteUrl: string) {
  const recording = loginRecording(siteUrl);
  return {
    ...recording,
    name: "login with ${PASSWORD}",
    variables: [{ name: "PASSWORD", sensitive: true }],
    actions: recording.actions.map((action) =>
      "sensitive" in action ? { type: action.type, selector: action.selector, value: "${PASSWORD}" } : action,
    ),
  };
}

async function startAndWait(suiteId: string, body: unknown = {}) {
  const started = await stack.request("POST", `/api/suites/${suiteId}/runs`, body);
  expect(started.status, JSON.stringify(started.body)).toBe(202);
  const done = await waitFor(
    async () => {
      const view = (await stack.request("GET", `/api/suite-runs/${started.body.id}`)).body;
      return ["passed", "failed", "cancelled"].includes(view.status) ? view : undefined;
    },
    { timeoutMs: 120_000, what: "the suite run to finish" },
  );
  return { started: started.body, done };
}

interface RunRow {
  id: string;
  status: string;
  started_at: string | Date | null;
  finished_at: string | Date | null;
  variables: Record<string, string>;
}

async function runRows(suiteRunId: string, order: readonly string[]): Promise<RunRow[]> {
  const rows = await stack.db.query<RunRow & Record<string, unknown>>(
    "select id, status, started_at, finished_at, variables from runs where suite_run_id = $1",
    [suiteRunId],
  );
  return rows.sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
}

describe("a suite with maxParallel 1", () => {
  it("runs its four runs one after the other, all passing, one with a sealed suite variable", async () => {
    const ids = [
      await storeRecording(variableLogin(site.url)),
      await storeRecording(loginRecording(site.url)),
      await storeRecording(loginRecording(site.url)),
      await storeRecording(loginRecording(site.url)),
    ];
    const suite = await stack.request("POST", "/api/suites", {
      name: "one at a time",
      recordingIds: ids,
      maxParallel: 1,
      defaults: { variables: { PASSWORD: "secret" }, retries: 0 },
    });
    expect(suite.status, JSON.stringify(suite.body)).toBe(201);
    expect(suite.body.defaults.variables).toEqual(["PASSWORD"]);
    const [stored] = await stack.db.query<{ defaults: { variables: Record<string, string> } }>(
      "select defaults from suites where id = $1",
      [suite.body.id],
    );
    expect(isSealed(stored?.defaults.variables.PASSWORD ?? "")).toBe(true);

    const { started, done } = await startAndWait(suite.body.id);
    expect(started.runs.map((r: { held: boolean }) => r.held)).toEqual([false, true, true, true]);
    expect(done.status, JSON.stringify(done.runs.map((r: { error: unknown }) => r.error))).toBe("passed");
    expect(done.runs.map((r: { status: string }) => r.status)).toEqual(["passed", "passed", "passed", "passed"]);
    // retries are test-level (none here); infrastructure attempts stay the API's (MAX_RETRIES + 1).
    expect(done.runs.map((r: { retries: number; maxAttempts: number }) => [r.retries, r.maxAttempts])).toEqual([
      [0, 3],
      [0, 3],
      [0, 3],
      [0, 3],
    ]);
    const order = done.runs.map((r: { id: string }) => r.id) as string[];
    const rows = await runRows(done.id, order);
    // Never two at once: each started only after the one before it had finished.
    const at = (value: string | Date | null) => (value === null ? Number.NaN : new Date(value).getTime());
    for (let i = 1; i < rows.length; i++) {
      const previous = rows[i - 1] as RunRow;
      const current = rows[i] as RunRow;
      expect(at(current.started_at)).toBeGreaterThanOrEqual(at(previous.finished_at));
    }
    // The variable reached the browser (the login passed) but is stored sealed and never answered.
    expect(isSealed(rows[0]?.variables.PASSWORD ?? "")).toBe(true);
    for (const path of [`/api/suite-runs/${done.id}`, `/api/runs/${order[0]}`, `/api/runs/${order[0]}/events`]) {
      expect(JSON.stringify((await stack.request("GET", path)).body), path).not.toContain('"secret"');
    }
  });
});

describe("a suite with failFast", () => {
  it("cancels the runs that had not started once its first run fails; the suite run is failed", async () => {
    const ids = [
      await storeRecording(loginRecording(site.url, "wrong")),
      await storeRecording(loginRecording(site.url)),
      await storeRecording(loginRecording(site.url)),
      await storeRecording(loginRecording(site.url)),
    ];
    const suite = await stack.request("POST", "/api/suites", {
      name: "fail fast",
      recordingIds: ids,
      maxParallel: 1,
      failFast: true,
    });
    expect(suite.status, JSON.stringify(suite.body)).toBe(201);
    const { done } = await startAndWait(suite.body.id);
    expect(done.status).toBe("failed");
    expect(done.failFast).toBe(true);
    expect(done.failedFastAt, JSON.stringify(done)).not.toBeNull();
    expect(done.runs.map((r: { status: string }) => r.status)).toEqual([
      "failed",
      "cancelled",
      "cancelled",
      "cancelled",
    ]);
    for (const run of done.runs.slice(1)) {
      expect(run.startedAt).toBeNull();
      expect(run.error.message).toContain("failFast");
    }
  });
});
