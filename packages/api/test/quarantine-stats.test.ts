/**
 * `POST/DELETE /api/recordings/:id/quarantine` and `GET /api/recordings/:id/stats` through
 * `app.inject` on real Postgres and Redis: validation names the field, the recording shows its
 * quarantine until it expires (then null, with nothing to clear), and the stats read the rollup.
 */
import { rollupRecordingStats } from "@conveyor/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, createProjectViaApi, createTestApp, sampleRecording, type TestApp } from "./helpers.ts";

let t: TestApp;
let owner: { id: string; apiKey: string };
let recordingId: string;

beforeAll(async () => {
  t = await createTestApp("quarantine_stats");
  owner = await createProjectViaApi(t.app, "owner");
  const created = await t.app.inject({
    method: "POST",
    url: "/api/recordings",
    headers: auth(owner.apiKey),
    payload: sampleRecording(),
  });
  recordingId = created.json().id;
});

afterAll(async () => {
  await t?.close();
});

function call(method: "GET" | "POST" | "DELETE", url: string, payload?: Record<string, unknown>) {
  return t.app.inject({ method, url, headers: auth(owner.apiKey), ...(payload === undefined ? {} : { payload }) });
}

const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

describe("quarantine", () => {
  it("refuses a bad body with a 400 naming the field", async () => {
    for (const [payload, field] of [
      [{ reason: "x", expiresAt: inDays(31) }, "body.expiresAt"],
      [{ reason: "x", expiresAt: inDays(-1) }, "body.expiresAt"],
      [{ reason: "x", expiresAt: "tomorrow" }, "body.expiresAt"],
      [{ reason: "x" }, "body.expiresAt"],
      [{ reason: "", expiresAt: inDays(1) }, "body.reason"],
      [{ expiresAt: inDays(1) }, "body.reason"],
    ] as const) {
      const response = await call("POST", `/api/recordings/${recordingId}/quarantine`, payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(response.json().error.code).toBe("validation_failed");
      expect(response.json().error.details.fields[0].field, JSON.stringify(payload)).toBe(field);
    }
    expect((await call("GET", `/api/recordings/${recordingId}`)).json().quarantine).toBeNull();
  });

  it("is shown on the recording until it is lifted or expires", async () => {
    const until = inDays(30);
    const set = await call("POST", `/api/recordings/${recordingId}/quarantine`, {
      reason: "known flaky",
      expiresAt: until,
    });
    expect(set.statusCode, set.body).toBe(200);
    expect(set.json().quarantine).toMatchObject({ reason: "known flaky", until });
    const read = await call("GET", `/api/recordings/${recordingId}`);
    expect(read.json().quarantine).toEqual(set.json().quarantine);
    expect((await call("GET", "/api/recordings")).json().items[0].quarantine).toMatchObject({ reason: "known flaky" });

    const lifted = await call("DELETE", `/api/recordings/${recordingId}/quarantine`);
    expect(lifted.statusCode).toBe(200);
    expect(lifted.json().quarantine).toBeNull();

    // Expiry lifts it by itself: reads compare with now.
    await call("POST", `/api/recordings/${recordingId}/quarantine`, { reason: "short", expiresAt: inDays(1) });
    await t.db.query("update recordings set quarantined_until = now() - interval '1 second' where id = $1", [
      recordingId,
    ]);
    expect((await call("GET", `/api/recordings/${recordingId}`)).json().quarantine).toBeNull();

    const missing = await call("POST", "/api/recordings/rec_00000000000000000000000000/quarantine", {
      reason: "x",
      expiresAt: inDays(1),
    });
    expect(missing.statusCode).toBe(404);
  });
});

describe("stats", () => {
  it("reads the rollup over days, or the last runs; refuses both at once", async () => {
    const empty = await call("GET", `/api/recordings/${recordingId}/stats`);
    expect(empty.statusCode, empty.body).toBe(200);
    expect(empty.json()).toMatchObject({
      window: { days: 30, runs: null },
      source: "rollup",
      runs: 0,
      passRate: null,
      lastFailure: null,
    });

    const submitted = await call("POST", "/api/runs", { recordingId, variables: { PASSWORD: "pw" } });
    const runId = submitted.json().id as string;
    // Ended two minutes ago (past the rollup's settle time), as a worker would have ended it.
    await t.db.query(
      `update runs set status = 'failed', attempt = 1, started_at = now() - interval '2 minutes',
         finished_at = now() - interval '2 minutes', duration_ms = 1234, error_kind = 'test_failure',
         error_message = 'not visible', failed_action_index = 0 where id = $1`,
      [runId],
    );
    expect((await rollupRecordingStats(t.db.db)).runs).toBe(1);
    expect((await rollupRecordingStats(t.db.db)).runs).toBe(0);

    const stats = await call("GET", `/api/recordings/${recordingId}/stats?days=7`);
    expect(stats.json()).toMatchObject({
      window: { days: 7 },
      runs: 1,
      failed: 1,
      passRate: 0,
      flakyRate: 0,
      p50DurationMs: 1234,
      p95DurationMs: 1234,
      lastFailure: { runId, actionIndex: 0, errorMessage: "not visible", links: { run: `/api/runs/${runId}` } },
    });
    const byRuns = await call("GET", `/api/recordings/${recordingId}/stats?runs=5`);
    expect(byRuns.json()).toMatchObject({ source: "runs", window: { runs: 5, days: null }, runs: 1, failed: 1 });

    for (const [query, field] of [
      ["days=91", "querystring.days"],
      ["days=0", "querystring.days"],
      ["runs=1001", "querystring.runs"],
      ["days=3&runs=3", "querystring.runs"],
    ] as const) {
      const response = await call("GET", `/api/recordings/${recordingId}/stats?${query}`);
      expect(response.statusCode, query).toBe(400);
      expect(response.json().error.details.fields[0].field, query).toBe(field);
    }
  });
});
