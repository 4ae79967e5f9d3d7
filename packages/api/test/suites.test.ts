/**
 * Suites and suite runs through the API, on a real Postgres and Redis: definition (explicit ids,
 * tag queries, validation naming the field), a suite run's snapshot of its membership, its
 * children and their jobs, the aggregate status as children finish, cancel cascading to queued
 * and running children, Idempotency-Key, the queue limit (all or nothing), CI metadata filters,
 * and tenant isolation.
 */
import { claimRun, finishRun, type RunOutcome } from "@conveyor/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, createProjectViaApi, createTestApp, sampleRecording, type TestApp } from "./helpers.ts";

let t: TestApp;
let p: { id: string; apiKey: string };
let other: { id: string; apiKey: string };

beforeAll(async () => {
  t = await createTestApp("suites");
  p = await createProjectViaApi(t.app, "suites");
  other = await createProjectViaApi(t.app, "other");
});

afterAll(async () => {
  await t?.close();
});

async function call(
  method: "GET" | "POST" | "PATCH" | "DELETE",
  url: string,
  payload?: unknown,
  key = p.apiKey,
  headers = {},
) {
  const response = await t.app.inject({
    method,
    url,
    headers: { ...auth(key), ...headers },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: response.statusCode, body: response.body ? response.json() : undefined, headers: response.headers };
}

async function recording(name: string, tags: string[] = [], key = p.apiKey): Promise<string> {
  const created = await call("POST", "/api/recordings", sampleRecording(name), key);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  if (tags.length) {
    const tagged = await call("PATCH", `/api/recordings/${created.body.id}`, { tags }, key);
    expect(tagged.status, JSON.stringify(tagged.body)).toBe(200);
  }
  return created.body.id as string;
}

/** Claims and finishes a child run as a worker would. */
async function finish(projectId: string, runId: string, status: "passed" | "failed") {
  const claimed = await claimRun(t.db.db, projectId, runId, "w-test");
  expect(claimed?.status).toBe("running");
  const outcome: RunOutcome = {
    status,
    durationMs: 10,
    counts: { passed: status === "passed" ? 4 : 1, failed: status === "failed" ? 1 : 0, skipped: 0 },
  };
  if (status === "failed") outcome.error = { kind: "test_failure", message: "expected /thanks", actionIndex: 3 };
  const ok = await finishRun(t.db.db, projectId, runId, claimed?.attempt ?? 0, outcome, "w-test");
  expect(ok).toBe(true);
}

describe("recording tags", () => {
  it("are set by PATCH (lower case, deduplicated, sorted), shown, and filter the list", async () => {
    const id = await recording("tagged");
    const patched = await call("PATCH", `/api/recordings/${id}`, { tags: ["Smoke", "checkout", "smoke"] });
    expect(patched.status).toBe(200);
    expect(patched.body.tags).toEqual(["checkout", "smoke"]);
    const listed = await call("GET", "/api/recordings?tag=SMOKE");
    expect(listed.body.items.map((r: { id: string }) => r.id)).toContain(id);
    const none = await call("GET", "/api/recordings?tag=nothing-has-this");
    expect(none.body.items).toEqual([]);
  });

  it("refuse a bad tag naming the field", async () => {
    const id = await recording("bad-tag");
    const response = await call("PATCH", `/api/recordings/${id}`, { tags: ["ok", "no spaces"] });
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body.error)).toContain("body.tags[1]");
  });
});

describe("suites", () => {
  it("are created, read, listed, changed and deleted", async () => {
    const a = await recording("crud-a");
    const created = await call("POST", "/api/suites", {
      name: "crud",
      recordingIds: [a],
      defaults: { priority: 3, timeoutMs: 90_000 },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.headers.location).toBe(`/api/suites/${created.body.id}`);
    expect(created.body).toMatchObject({ name: "crud", recordingIds: [a], tagQuery: null, defaults: { priority: 3 } });
    const id = created.body.id as string;
    expect((await call("GET", `/api/suites/${id}`)).body).toEqual(created.body);
    expect((await call("GET", "/api/suites")).body.items.map((s: { id: string }) => s.id)).toContain(id);

    const patched = await call("PATCH", `/api/suites/${id}`, { name: "crud-renamed", tagQuery: { any: ["x"] } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: "crud-renamed", recordingIds: [a], tagQuery: { any: ["x"] } });

    expect((await call("DELETE", `/api/suites/${id}`)).status).toBe(204);
    expect((await call("GET", `/api/suites/${id}`)).status).toBe(404);
    expect((await call("DELETE", `/api/suites/${id}`)).status).toBe(404);
  });

  it("refuse bad definitions with a 4xx naming the field", async () => {
    const a = await recording("bad-def");
    const cases: Array<[unknown, number, string]> = [
      [{ name: "no-members" }, 400, "body.recordingIds"],
      [{ name: "unknown-id", recordingIds: [a, "rec_01m8sp00000000000000000000"] }, 400, "body.recordingIds[1]"],
      [{ name: "garbage-id", recordingIds: ["not-an-id"] }, 400, "body.recordingIds[0]"],
      [{ name: "none-only", tagQuery: { none: ["slow"] } }, 400, "body.tagQuery"],
      [{ name: "", recordingIds: [a] }, 400, "body.name"],
      [{ name: "prio", recordingIds: [a], defaults: { priority: 11 } }, 400, "body.defaults.priority"],
      [{ name: "extra", recordingIds: [a], maxParallel: 2 }, 400, "maxParallel"],
    ];
    for (const [payload, status, field] of cases) {
      const response = await call("POST", "/api/suites", payload);
      expect(response.status, JSON.stringify(payload)).toBe(status);
      expect(JSON.stringify(response.body.error), JSON.stringify(payload)).toContain(field);
    }
    expect((await call("POST", "/api/suites", { name: "dup", recordingIds: [a] })).status).toBe(201);
    const duplicate = await call("POST", "/api/suites", { name: "dup", recordingIds: [a] });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe("conflict");
  });

  it("cannot name another project's recordings, and are invisible to other projects", async () => {
    const foreign = await recording("foreign", [], other.apiKey);
    const response = await call("POST", "/api/suites", { name: "steal", recordingIds: [foreign] });
    expect(response.status).toBe(400);
    expect(JSON.stringify(response.body.error)).toContain("body.recordingIds[0]");
    const mine = await call("POST", "/api/suites", { name: "mine", recordingIds: [await recording("mine")] });
    expect((await call("GET", `/api/suites/${mine.body.id}`, undefined, other.apiKey)).status).toBe(404);
    expect((await call("POST", `/api/suites/${mine.body.id}/runs`, {}, other.apiKey)).status).toBe(404);
    expect((await call("DELETE", `/api/suites/${mine.body.id}`, undefined, other.apiKey)).status).toBe(404);
  });
});

describe("suite runs", () => {
  it("snapshot the membership (explicit ids in order, then tag matches by name) and queue one run each", async () => {
    // A project of its own: other tests tag recordings too.
    const own = await createProjectViaApi(t.app, "membership");
    const key = own.apiKey;
    const first = await recording("zeta explicit", [], key);
    const second = await recording("alpha explicit", ["regress"], key);
    const byTagB = await recording("tag b", ["regress", "smoke"], key);
    const byTagA = await recording("tag a", ["smoke"], key);
    await recording("tag slow", ["smoke", "slow"], key);
    await recording("untagged", [], key);
    const suite = await call(
      "POST",
      "/api/suites",
      {
        name: "membership",
        recordingIds: [first, second],
        tagQuery: { any: ["smoke", "regress"], none: ["slow"] },
        defaults: { priority: 2, timeoutMs: 120_000 },
      },
      key,
    );
    expect(suite.status).toBe(201);
    const started = await call(
      "POST",
      `/api/suites/${suite.body.id}/runs`,
      {
        ci: { commit: "abc123", branch: "main", buildId: "42", url: "https://ci.example.test/b/42" },
      },
      key,
    );
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(started.headers.location).toBe(`/api/suite-runs/${started.body.id}`);
    const run = started.body;
    expect(run).toMatchObject({ suiteId: suite.body.id, suiteName: "membership", status: "queued", total: 4 });
    expect(run.runs.map((r: { recordingId: string }) => r.recordingId)).toEqual([first, second, byTagA, byTagB]);
    for (const child of run.runs) {
      expect(child).toMatchObject({ status: "queued", priority: 2, timeoutMs: 120_000, suiteRunId: run.id });
      expect(child.ci).toEqual({
        commit: "abc123",
        branch: "main",
        buildId: "42",
        url: "https://ci.example.test/b/42",
      });
    }
    await t.runQueue.settle();
    for (const child of run.runs) {
      const job = await t.inspectQueue.getJob(child.id);
      expect(job?.data).toEqual({ runId: child.id, projectId: own.id });
      expect(job?.opts.priority).toBe(2);
    }
    const events = await t.db.query<{ type: string; data: { suiteRunId?: string } }>(
      "select type, data from run_events where run_id = $1",
      [run.runs[0].id],
    );
    expect(events).toEqual([{ type: "queued", data: { priority: 2, suiteRunId: run.id } }]);

    // Later changes to the suite or the tags do not change a suite run that started.
    await call("PATCH", `/api/recordings/${byTagA}`, { tags: [] }, key);
    const again = await call("GET", `/api/suite-runs/${run.id}`, undefined, key);
    expect(again.body.runs.map((r: { id: string }) => r.id)).toEqual(run.runs.map((r: { id: string }) => r.id));
    // The next suite run sees the change.
    const next = await call("POST", `/api/suites/${suite.body.id}/runs`, { priority: 4 }, key);
    expect(next.body.runs.map((r: { recordingId: string }) => r.recordingId)).toEqual([first, second, byTagB]);
    expect(next.body.runs.map((r: { priority: number }) => r.priority)).toEqual([4, 4, 4]);
  });

  it("aggregate their children: queued, running, then failed when one failed (two passed)", async () => {
    const ids = [await recording("agg 1"), await recording("agg 2"), await recording("agg 3")];
    const suite = await call("POST", "/api/suites", { name: "aggregate", recordingIds: ids });
    const started = await call("POST", `/api/suites/${suite.body.id}/runs`, {});
    const suiteRunId = started.body.id as string;
    const [a, b, c] = started.body.runs.map((r: { id: string }) => r.id) as [string, string, string];
    const status = async () => (await call("GET", `/api/suite-runs/${suiteRunId}`)).body;
    expect((await status()).status).toBe("queued");
    await finish(p.id, a, "passed");
    expect((await status()).status).toBe("running");
    await finish(p.id, b, "failed");
    expect((await status()).status).toBe("running");
    await finish(p.id, c, "passed");
    const done = await status();
    expect(done.status).toBe("failed");
    expect(done.counts).toEqual({ queued: 0, running: 0, passed: 2, failed: 1, errored: 0, cancelled: 0 });
    expect(done.runs).toHaveLength(3);
    expect(done.runs[1].error).toMatchObject({ kind: "test_failure", actionIndex: 3 });

    const passing = await call("POST", `/api/suites/${suite.body.id}/runs`, {});
    for (const child of passing.body.runs) await finish(p.id, child.id, "passed");
    expect((await call("GET", `/api/suite-runs/${passing.body.id}`)).body.status).toBe("passed");

    // Its runs are listed by suite run.
    const listed = await call("GET", `/api/runs?suiteRunId=${suiteRunId}&limit=10`);
    expect(listed.body.items.map((r: { id: string }) => r.id).sort()).toEqual([a, b, c].sort());
  });

  it("cancel: queued children end cancelled with their jobs removed, running ones are asked to stop", async () => {
    const ids = [await recording("cancel 1"), await recording("cancel 2"), await recording("cancel 3")];
    const suite = await call("POST", "/api/suites", { name: "cancel", recordingIds: ids });
    const started = await call("POST", `/api/suites/${suite.body.id}/runs`, {});
    const [done, running, queued] = started.body.runs.map((r: { id: string }) => r.id) as [string, string, string];
    await finish(p.id, done, "passed");
    expect((await claimRun(t.db.db, p.id, running, "w-test"))?.status).toBe("running");

    const cancelled = await call("POST", `/api/suite-runs/${started.body.id}/cancel`);
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    expect(cancelled.body.cancelledAt).not.toBeNull();
    const byId = new Map(cancelled.body.runs.map((r: { id: string }) => [r.id, r]));
    expect(byId.get(done)).toMatchObject({ status: "passed" });
    expect(byId.get(queued)).toMatchObject({ status: "cancelled", error: { kind: "cancelled" } });
    expect((byId.get(running) as { cancelRequestedAt: string | null }).cancelRequestedAt).not.toBeNull();
    expect(cancelled.body.status).toBe("running");
    expect(await t.inspectQueue.getJob(queued)).toBeUndefined();
    const events = await t.db.query<{ type: string }>("select type from run_events where run_id = $1 order by id", [
      running,
    ]);
    expect(events.map((e) => e.type)).toEqual(["queued", "started", "cancel_requested"]);

    // The worker ends the running child cancelled: the suite run is cancelled.
    await finishRun(
      t.db.db,
      p.id,
      running,
      1,
      { status: "cancelled", durationMs: 5, counts: { passed: 0, failed: 0, skipped: 0 } },
      "w-test",
    );
    expect((await call("GET", `/api/suite-runs/${started.body.id}`)).body.status).toBe("cancelled");
    // Cancelling again changes nothing and still answers.
    expect((await call("POST", `/api/suite-runs/${started.body.id}/cancel`)).status).toBe(200);
  });

  it("with an Idempotency-Key: one suite run for the same request, 422 for another body", async () => {
    const suite = await call("POST", "/api/suites", { name: "idem", recordingIds: [await recording("idem")] });
    const headers = { "idempotency-key": "deploy-77" };
    const [one, two] = await Promise.all([
      call("POST", `/api/suites/${suite.body.id}/runs`, { ci: { commit: "c77" } }, p.apiKey, headers),
      call("POST", `/api/suites/${suite.body.id}/runs`, { ci: { commit: "c77" } }, p.apiKey, headers),
    ]);
    expect([one.status, two.status]).toEqual([202, 202]);
    expect(one.body.id).toBe(two.body.id);
    expect(one.body.runs.map((r: { id: string }) => r.id)).toEqual(two.body.runs.map((r: { id: string }) => r.id));
    const [{ n }] = (await t.db.query<{ n: number }>(
      "select count(*)::int as n from suite_runs where idempotency_key = 'deploy-77'",
    )) as [{ n: number }];
    expect(n).toBe(1);
    const reused = await call(
      "POST",
      `/api/suites/${suite.body.id}/runs`,
      { ci: { commit: "other" } },
      p.apiKey,
      headers,
    );
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe("idempotency_key_reused");
  });

  it("of an empty suite are a 422 suite_empty, and nothing is created", async () => {
    const gone = await recording("gone");
    const suite = await call("POST", "/api/suites", {
      name: "empty",
      recordingIds: [gone],
      tagQuery: { all: ["no-such-tag"] },
    });
    expect(suite.status).toBe(201);
    expect((await call("DELETE", `/api/recordings/${gone}`)).status).toBe(204);
    const before = await t.db.query<{ n: number }>("select count(*)::int as n from suite_runs");
    const response = await call("POST", `/api/suites/${suite.body.id}/runs`, {});
    expect(response.status).toBe(422);
    expect(response.body.error.code).toBe("suite_empty");
    expect(await t.db.query<{ n: number }>("select count(*)::int as n from suite_runs")).toEqual(before);
  });

  it("respect the project's queue limit all or nothing (429 queue_full, no child created)", async () => {
    const limited = await createProjectViaApi(t.app, "limited");
    await t.db.query(`update projects set limits = '{"maxQueuedRuns": 2}'::jsonb where id = $1`, [limited.id]);
    const ids = [
      await recording("l1", [], limited.apiKey),
      await recording("l2", [], limited.apiKey),
      await recording("l3", [], limited.apiKey),
    ];
    const suite = await call("POST", "/api/suites", { name: "too-big", recordingIds: ids }, limited.apiKey);
    const response = await call("POST", `/api/suites/${suite.body.id}/runs`, {}, limited.apiKey);
    expect(response.status).toBe(429);
    expect(response.body.error.code).toBe("queue_full");
    const [{ n }] = (await t.db.query<{ n: number }>("select count(*)::int as n from runs where project_id = $1", [
      limited.id,
    ])) as [{ n: number }];
    expect(n).toBe(0);
  });

  it("and runs are filtered by CI metadata; bad CI metadata is a 400 naming the field", async () => {
    const suite = await call("POST", "/api/suites", { name: "ci", recordingIds: [await recording("ci")] });
    const onBranch = await call("POST", `/api/suites/${suite.body.id}/runs`, {
      ci: { branch: "release/9", commit: "f00" },
    });
    await call("POST", `/api/suites/${suite.body.id}/runs`, { ci: { branch: "main", commit: "f01" } });
    const single = await call("POST", "/api/runs", {
      recording: sampleRecording("single"),
      ci: { branch: "release/9" },
    });
    expect(single.status, JSON.stringify(single.body)).toBe(202);
    expect(single.body.ci).toEqual({ branch: "release/9" });

    const suiteRuns = await call("GET", `/api/suite-runs?ciBranch=${encodeURIComponent("release/9")}`);
    expect(suiteRuns.body.items.map((s: { id: string }) => s.id)).toEqual([onBranch.body.id]);
    expect(suiteRuns.body.items[0]).toMatchObject({ status: "queued", total: 1, counts: { queued: 1 } });
    const bySuite = await call("GET", `/api/suite-runs?suiteId=${suite.body.id}`);
    expect(bySuite.body.items).toHaveLength(2);
    const runs = await call("GET", `/api/runs?ciBranch=${encodeURIComponent("release/9")}&limit=100`);
    expect(runs.body.items.map((r: { id: string }) => r.id).sort()).toEqual(
      [single.body.id, onBranch.body.runs[0].id].sort(),
    );
    const byCommit = await call("GET", "/api/runs?ciCommit=f01");
    expect(byCommit.body.items).toHaveLength(1);

    const bad = await call("POST", "/api/runs", {
      recording: sampleRecording("bad-ci"),
      ci: { url: "javascript:alert(1)" },
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.error)).toContain("body.ci.url");
    const unknown = await call("POST", `/api/suites/${suite.body.id}/runs`, { ci: { sha: "x" } });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body.error)).toContain("body.ci");
  });

  it("are 404 across projects and for malformed ids", async () => {
    const suite = await call("POST", "/api/suites", { name: "iso", recordingIds: [await recording("iso")] });
    const started = await call("POST", `/api/suites/${suite.body.id}/runs`, {});
    expect((await call("GET", `/api/suite-runs/${started.body.id}`, undefined, other.apiKey)).status).toBe(404);
    expect((await call("POST", `/api/suite-runs/${started.body.id}/cancel`, undefined, other.apiKey)).status).toBe(404);
    expect((await call("GET", "/api/suite-runs/nope")).status).toBe(404);
    expect((await call("GET", "/api/suite-runs", undefined, other.apiKey)).body.items).toEqual([]);
  });
});
