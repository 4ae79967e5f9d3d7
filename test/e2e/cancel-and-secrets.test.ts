/**
 * Cancelling a running run from the API stops it inside the current action, long before that
 * action would have ended, on whichever worker holds it; and sensitive values never reach the
 * database, an API response or a log line. (How soon it stops is measured by `pnpm bench --only
 * cancel`, not bounded here: a wall-clock bound is a benchmark's job.)
 */

import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import type { Proc } from "@conveyor/testing/processes";
import { expectEventsProjectToRow } from "@conveyor/testing/projection";
import { slowRecording } from "@conveyor/testing/recordings";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
let site: FixtureSite;
let worker: Proc;

beforeAll(async () => {
  site = await startFixtureSite();
  stack = await createStack("cancel");
  await stack.startApi();
  worker = await stack.startWorker("w-cancel", { WORKER_CONCURRENCY: "2" });
  await stack.createProject("cancel");
});

afterAll(async () => {
  await stack?.stop();
  await site?.close();
});

describe("cancelling a running run", () => {
  it("stops it inside the current action, long before that action would have ended, and ends it cancelled", async () => {
    // Action 2 waits for content the page adds 60 s after it opened.
    const CONTENT_MS = 60_000;
    const submitted = await stack.request("POST", "/api/runs", { recording: slowRecording(site.url, CONTENT_MS) });
    const runId = submitted.body.id;
    await stack.waitForRun(runId, ["running"]);
    // Let it get into the wait of action 2.
    await new Promise((r) => setTimeout(r, 500));

    const cancel = await stack.request("POST", `/api/runs/${runId}/cancel`);
    expect(cancel.status).toBe(202);
    expect(cancel.body.cancelRequested).toBe(true);

    // Waits as long as half the action: a run left to finish the action would end after that.
    const run = await stack.waitForRun(runId, ["passed", "failed", "errored", "cancelled"], CONTENT_MS / 2);
    expect(run.status).toBe("cancelled");
    expect(run.error).toMatchObject({ kind: "cancelled" });
    // Judged by the run's own timestamps: the content appears CONTENT_MS after the page opened,
    // after the run started, so a run that waited for it could not finish sooner. (Typically it
    // stops ~100 ms after the cancel: that figure is in docs/benchmarks.md.)
    const [timing] = await stack.db.query<{ ran_ms: number; cancel_before_finish: boolean }>(
      `select extract(epoch from (finished_at - started_at)) * 1000 as ran_ms,
              cancel_requested_at <= finished_at as cancel_before_finish
         from runs where id = $1`,
      [runId],
    );
    expect(timing?.cancel_before_finish).toBe(true);
    expect(Number(timing?.ran_ms)).toBeLessThan(CONTENT_MS);

    const events = await stack.request("GET", `/api/runs/${runId}/events`);
    expect(events.body.items.map((e: { type: string }) => e.type)).toEqual([
      "queued",
      "started",
      "cancel_requested",
      "finished",
    ]);
    await expectEventsProjectToRow(stack.db, runId);
    // The worker is free again: a new run goes through.
    const next = await stack.request("POST", "/api/runs", { recording: slowRecording(site.url, 100) });
    expect((await stack.waitForRun(next.body.id, ["passed", "failed", "errored", "cancelled"])).status).toBe("passed");
    // A second cancel of a finished run is refused.
    expect((await stack.request("POST", `/api/runs/${runId}/cancel`)).status).toBe(409);
  });
});

describe("a cancel racing a completion", () => {
  it("yields exactly one terminal state, whichever wins", async () => {
    const runIds: string[] = [];
    // Cancels land at different moments around each run's end: before, during, after.
    for (const delayMs of [0, 150, 300, 450, 600, 800]) {
      const submitted = await stack.request("POST", "/api/runs", { recording: slowRecording(site.url, 300) });
      expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
      runIds.push(submitted.body.id);
      setTimeout(() => {
        void stack.request("POST", `/api/runs/${submitted.body.id}/cancel`);
      }, delayMs);
    }
    for (const runId of runIds) {
      const run = await stack.waitForRun(runId, ["passed", "failed", "errored", "cancelled"], 30_000);
      expect(["passed", "cancelled"]).toContain(run.status);
      const events = await stack.db.query<{ type: string }>("select type from run_events where run_id = $1", [runId]);
      const terminal = events.filter((e) => e.type === "finished" || e.type === "cancelled");
      expect(terminal).toHaveLength(1);
      await expectEventsProjectToRow(stack.db, runId);
    }
    // A moment later nothing has changed: no late write overturned a terminal state.
    await new Promise((r) => setTimeout(r, 1000));
    for (const runId of runIds) {
      const events = await stack.db.query<{ type: string }>("select type from run_events where run_id = $1", [runId]);
      expect(events.filter((e) => e.type === "finished" || e.type === "cancelled")).toHaveLength(1);
    }
  });
});

describe("sensitive values", () => {
  const PASSWORD = "s3cr3t-Passw0rd-9f8e";
  const TOKEN = "tok-7c1d-very-private";

  it("never appear in the database, API responses or logs", async () => {
    const recording = {
      name: "login with secrets",
      variables: [{ name: "API_TOKEN", sensitive: true }],
      actions: [
        { type: "navigate", url: `${site.url}/login` },
        { type: "input", selector: "#username", value: "alice" },
        { type: "input", selector: "#password", value: PASSWORD, sensitive: true },
        { type: "input", selector: "#username", value: "${API_TOKEN}" },
        // Fails on purpose, so error messages and a screenshot are produced too.
        { type: "assert", check: "elementText", selector: "#username", expected: "${API_TOKEN}!", timeoutMs: 1000 },
      ],
    };
    const responses: string[] = [];
    const stored = await stack.request("POST", "/api/recordings", recording);
    expect(stored.status).toBe(201);
    responses.push(JSON.stringify(stored.body));
    const submitted = await stack.request("POST", "/api/runs", {
      recordingId: stored.body.id,
      variables: { API_TOKEN: TOKEN },
    });
    expect(submitted.status).toBe(202);
    responses.push(JSON.stringify(submitted.body));
    const run = await stack.waitForRun(submitted.body.id, ["passed", "failed", "errored", "cancelled"]);
    expect(run.status).toBe("failed");
    expect(run.variables).toEqual(["API_TOKEN"]);
    responses.push(JSON.stringify(run));
    for (const path of [
      `/api/runs/${run.id}/events`,
      "/api/runs",
      `/api/recordings/${stored.body.id}`,
      "/api/recordings",
    ]) {
      const response = await stack.request("GET", path);
      expect(response.status).toBe(200);
      responses.push(JSON.stringify(response.body));
    }
    const shown = await stack.request("GET", `/api/recordings/${stored.body.id}`);
    expect(shown.body.recording.actions[2].value).toBe("[redacted]");

    // The whole database, as text.
    const tables = await stack.db.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public'",
    );
    let dump = "";
    for (const { table_name } of tables) {
      const rows = await stack.db.query(`select t::text as row from "${table_name}" t`);
      dump += rows.map((r) => String(r.row)).join("\n");
    }
    expect(dump).toContain(run.id); // the dump is real
    // Stopped first, so that every line either process logged is in the files (logs go out
    // asynchronously and are flushed on exit).
    for (const proc of [stack.api, worker]) {
      proc?.child.kill("SIGTERM");
      await proc?.exited;
    }
    const logs = `${stack.api?.output() ?? ""}\n${worker.output()}`;
    expect(logs).toContain(run.id);
    for (const secret of [PASSWORD, TOKEN]) {
      expect(dump).not.toContain(secret);
      for (const body of responses) expect(body).not.toContain(secret);
      expect(logs).not.toContain(secret);
    }
  });
});
