/**
 * Suites and suite runs through the API, on a real Postgres and Redis: definition (explicit ids,
 * tag queries, validation naming the field), a suite run's snapshot of its membership, its
 * children and their jobs, the aggregate status as children finish, cancel cascading to queued
 * and running children, Idempotency-Key, the queue limit (all or nothing), CI metadata filters,
 * and tenant isolation.
 */
import { isSealed } from "@conveyor/core";
import { claimRun, finishRun, type RunOutcome } from "@conveyor/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, createProjectViaApi, createTestApp, DEFAULTS, sampleRecording, type TestApp } from "./helpers.ts";

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
      [{ name: "extra", recordingIds: [a], maxRuns: 2 }, 400, "maxRuns"],
      [{ name: "par0", recordingIds: [a], maxParallel: 0 }, 400, "body.maxParallel"],
      [{ name: "par-frac", recordingIds: [a], maxParallel: 1.5 }, 400, "body.maxParallel"],
      [{ name: "ff", recordingIds: [a], failFast: "yes" }, 400, "body.failFast"],
      [{ name: "retries", recordingIds: [a], defaults: { retries: 6 } }, 400, "body.defaults.retries"],
      [{ name: "retries-neg", recordingIds: [a], defaults: { retries: -1 } }, 400, "body.defaults.retries"],
      [{ name: "var", recordingIds: [a], defaults: { variables: { "no-dash": "x" } } }, 400, "body.defaults.variables"],
      [{ name: "var-num", recordingIds: [a], defaults: { variables: { N: 1 } } }, 400, "body.defaults.variables.N"],
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
    expect(done.counts).toEqual({
      queued: 0,
      running: 0,
      passed: 2,
      failed: 1,
      errored: 0,
      cancelled: 0,
      flaky: 0,
      quarantined: 0,
    });
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

/** A recording that types the sensitive variable `${PASSWORD}` and the plain `${USER}`. */
function variablesRecording(name: string) {
  return {
    version: 1,
    name,
    variables: [{ name: "PASSWORD", sensitive: true }, { name: "USER" }],
    actions: [
      { type: "navigate", url: "https://shop.example.test/login" },
      { type: "input", selector: "#username", value: "${USER}" },
      { type: "input", selector: "#password", value: "${PASSWORD}" },
    ],
  };
}

async function rows<T extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  return t.db.query<T>(text, params);
}

describe("suite flow: maxParallel, failFast, variables, retries", () => {
  it("maxParallel and failFast are set, shown, changed, and snapshotted onto each suite run", async () => {
    const a = await recording("flow-fields");
    const created = await call("POST", "/api/suites", { name: "flow-fields", recordingIds: [a], maxParallel: 2 });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body).toMatchObject({ maxParallel: 2, failFast: false });
    const patched = await call("PATCH", `/api/suites/${created.body.id}`, { failFast: true });
    expect(patched.body).toMatchObject({ maxParallel: 2, failFast: true });
    const started = await call("POST", `/api/suites/${created.body.id}/runs`, {});
    expect(started.body).toMatchObject({ maxParallel: 2, failFast: true, failedFastAt: null });
    const unlimited = await call("PATCH", `/api/suites/${created.body.id}`, { maxParallel: null, failFast: false });
    expect(unlimited.body).toMatchObject({ maxParallel: null, failFast: false });
    // The suite run that started keeps what the suite said then.
    const again = await call("GET", `/api/suite-runs/${started.body.id}`);
    expect(again.body).toMatchObject({ maxParallel: 2, failFast: true });
    expect(
      (await call("GET", "/api/suites?limit=100")).body.items.find((s: { id: string }) => s.id === created.body.id),
    ).toMatchObject({ maxParallel: null, failFast: false });
  });

  it("maxParallel: the runs after the first N are held, without a job, and released in order as siblings end", async () => {
    const ids = [await recording("mp-1"), await recording("mp-2"), await recording("mp-3"), await recording("mp-4")];
    const suite = await call("POST", "/api/suites", { name: "mp", recordingIds: ids, maxParallel: 2 });
    const started = await call("POST", `/api/suites/${suite.body.id}/runs`, {});
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const runIds = started.body.runs.map((r: { id: string }) => r.id) as string[];
    expect(started.body.runs.map((r: { held: boolean }) => r.held)).toEqual([false, false, true, true]);
    expect(started.body.counts.queued).toBe(4);
    await t.runQueue.settle();
    const jobs = async () => Promise.all(runIds.map(async (id) => (await t.inspectQueue.getJob(id)) !== undefined));
    expect(await jobs()).toEqual([true, true, false, false]);
    // A held run is never claimed, even from a job that should not be there.
    expect(await claimRun(t.db.db, p.id, runIds[2] as string, "w-test")).toBeNull();

    // The first ends: the third is released (in the suite's order) in that transaction.
    await finish(p.id, runIds[0] as string, "passed");
    const held = async () =>
      (
        await rows<{ id: string; held: boolean }>("select id, held from runs where suite_run_id = $1", [
          started.body.id,
        ])
      )
        .sort((x, y) => runIds.indexOf(x.id) - runIds.indexOf(y.id))
        .map((r) => r.held);
    expect(await held()).toEqual([false, false, false, true]);
    // The second is cancelled while queued: the fourth is released and the API adds its job.
    const cancelled = await call("POST", `/api/runs/${runIds[1]}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(await held()).toEqual([false, false, false, false]);
    await t.runQueue.settle();
    expect((await t.inspectQueue.getJob(runIds[3] as string))?.data).toMatchObject({ runId: runIds[3] });
    const view = await call("GET", `/api/suite-runs/${started.body.id}`);
    expect(view.body.runs.map((r: { held: boolean }) => r.held)).toEqual([false, false, false, false]);
    expect(view.body.counts).toMatchObject({ passed: 1, cancelled: 1, queued: 2 });
  });

  it("maxParallel: cancelling the suite run cancels its held runs too", async () => {
    const ids = [await recording("mpc-1"), await recording("mpc-2"), await recording("mpc-3")];
    const suite = await call("POST", "/api/suites", { name: "mpc", recordingIds: ids, maxParallel: 1 });
    const started = await call("POST", `/api/suites/${suite.body.id}/runs`, {});
    const cancelled = await call("POST", `/api/suite-runs/${started.body.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.runs.map((r: { status: string }) => r.status)).toEqual([
      "cancelled",
      "cancelled",
      "cancelled",
    ]);
    expect(cancelled.body.status).toBe("cancelled");
  });

  it("held runs count against the project's queue limit (they are queued)", async () => {
    const limited = await createProjectViaApi(t.app, "mp-limited");
    await t.db.query(`update projects set limits = '{"maxQueuedRuns": 2}'::jsonb where id = $1`, [limited.id]);
    const ids = [
      await recording("mpl-1", [], limited.apiKey),
      await recording("mpl-2", [], limited.apiKey),
      await recording("mpl-3", [], limited.apiKey),
    ];
    const suite = await call("POST", "/api/suites", { name: "mpl", recordingIds: ids, maxParallel: 1 }, limited.apiKey);
    const started = await call("POST", `/api/suites/${suite.body.id}/runs`, {}, limited.apiKey);
    expect(started.status).toBe(429);
    expect(started.body.error.code).toBe("queue_full");
  });

  it("failFast: a failed run cancels the siblings that have not started, held or not; the suite run is failed", async () => {
    const ids = [await recording("ff-1"), await recording("ff-2"), await recording("ff-3"), await recording("ff-4")];
    const suite = await call("POST", "/api/suites", { name: "ff", recordingIds: ids, maxParallel: 3, failFast: true });
    const started = await call("POST", `/api/suites/${suite.body.id}/runs`, {});
    const runIds = started.body.runs.map((r: { id: string }) => r.id) as string[];
    await t.runQueue.settle();
    // The second runs on; the first fails: the third (queued, with a job) and the fourth (held) are cancelled.
    const running = await claimRun(t.db.db, p.id, runIds[1] as string, "w-test");
    expect(running?.status).toBe("running");
    await finish(p.id, runIds[0] as string, "failed");
    let view = await call("GET", `/api/suite-runs/${started.body.id}`);
    expect(view.body.runs.map((r: { status: string }) => r.status)).toEqual([
      "failed",
      "running",
      "cancelled",
      "cancelled",
    ]);
    expect(view.body.runs[2].error.message).toContain("failFast");
    expect(view.body.failedFastAt).not.toBeNull();
    expect(view.body.status).toBe("running");
    // The running one finishes (passed): the aggregate stays failed.
    const ok = await finishRun(
      t.db.db,
      p.id,
      runIds[1] as string,
      running?.attempt ?? 0,
      { status: "passed", durationMs: 5, counts: { passed: 4, failed: 0, skipped: 0 } },
      "w-test",
    );
    expect(ok).toBe(true);
    view = await call("GET", `/api/suite-runs/${started.body.id}`);
    expect(view.body.status).toBe("failed");
    expect(view.body.counts).toMatchObject({ failed: 1, passed: 1, cancelled: 2 });
  });

  it("without failFast a failed run leaves its siblings alone", async () => {
    const ids = [await recording("nff-1"), await recording("nff-2")];
    const suite = await call("POST", "/api/suites", { name: "nff", recordingIds: ids });
    const started = await call("POST", `/api/suites/${suite.body.id}/runs`, {});
    await finish(p.id, started.body.runs[0].id, "failed");
    const view = await call("GET", `/api/suite-runs/${started.body.id}`);
    expect(view.body.runs.map((r: { status: string }) => r.status)).toEqual(["failed", "queued"]);
    expect(view.body.failedFastAt).toBeNull();
  });

  it("variables: stored sealed, shown by name only, overridden per name by the suite run, sealed per recording", async () => {
    const created = await call("POST", "/api/recordings", variablesRecording("vars"));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const plainRecording = await recording("vars-plain");
    const suite = await call("POST", "/api/suites", {
      name: "vars",
      recordingIds: [created.body.id, plainRecording],
      defaults: { priority: 4, variables: { PASSWORD: "s3cret-default", USER: "alice" } },
    });
    expect(suite.status, JSON.stringify(suite.body)).toBe(201);
    expect(suite.body.defaults).toEqual({ priority: 4, variables: ["PASSWORD", "USER"] });
    expect(JSON.stringify(suite.body)).not.toContain("s3cret");
    const [stored] = await rows<{ defaults: { variables: Record<string, string> } }>(
      "select defaults from suites where id = $1",
      [suite.body.id],
    );
    expect(isSealed(stored?.defaults.variables.PASSWORD ?? "")).toBe(true);
    expect(JSON.stringify(stored)).not.toContain("s3cret");

    // PATCH of other defaults keeps the variables (their values cannot be read back to be resent).
    const patched = await call("PATCH", `/api/suites/${suite.body.id}`, { defaults: { priority: 6 } });
    expect(patched.body.defaults).toEqual({ priority: 6, variables: ["PASSWORD", "USER"] });

    const started = await call("POST", `/api/suites/${suite.body.id}/runs`, { variables: { USER: "bob" } });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    expect(JSON.stringify(started.body)).not.toContain("s3cret");
    expect(started.body.runs.map((r: { variables: string[] }) => [...r.variables].sort())).toEqual([
      ["PASSWORD", "USER"],
      ["PASSWORD", "USER"],
    ]);
    const children = await rows<{ id: string; variables: Record<string, string> }>(
      "select id, variables from runs where suite_run_id = $1",
      [started.body.id],
    );
    for (const child of children) {
      expect(isSealed(child.variables.PASSWORD ?? "")).toBe(true);
      expect(child.variables.USER).toBe("bob");
    }
    for (const path of [
      `/api/suite-runs/${started.body.id}`,
      `/api/runs/${started.body.runs[0].id}`,
      `/api/runs/${started.body.runs[0].id}/events`,
      `/api/suites/${suite.body.id}`,
    ]) {
      expect(JSON.stringify((await call("GET", path)).body), path).not.toContain("s3cret");
    }
    const bad = await call("POST", `/api/suites/${suite.body.id}/runs`, { variables: { "1x": "no" } });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.error)).toContain("body.variables");
  });

  it("variables without SECRETS_KEY: a value a recording declares sensitive is refused, naming the field", async () => {
    const nokey = await createTestApp("suites-nokey", { secretsKey: undefined });
    try {
      const q = await createProjectViaApi(nokey.app, "nokey");
      const inject = async (method: "POST" | "PATCH", url: string, payload: object) => {
        const response = await nokey.app.inject({ method, url, headers: auth(q.apiKey), payload });
        return { status: response.statusCode, body: response.json() };
      };
      const rec = await inject("POST", "/api/recordings", variablesRecording("nokey"));
      expect(rec.status).toBe(201);
      const refused = await inject("POST", "/api/suites", {
        name: "nokey",
        recordingIds: [rec.body.id],
        defaults: { variables: { PASSWORD: "x" } },
      });
      expect(refused.status).toBe(400);
      expect(refused.body.error.details.fields[0].field).toBe("body.defaults.variables.PASSWORD");
      const plain = await inject("POST", "/api/suites", {
        name: "nokey-plain",
        recordingIds: [rec.body.id],
        defaults: { variables: { USER: "alice" } },
      });
      expect(plain.status).toBe(201);
      const run = await inject("POST", `/api/suites/${plain.body.id}/runs`, { variables: { PASSWORD: "x" } });
      expect(run.status).toBe(400);
      expect(run.body.error.details.fields[0].field).toBe("body.variables.PASSWORD");
    } finally {
      await nokey.close();
    }
  });

  it("retries: test-level retries of each run (0-5), the suite run may override them; infrastructure attempts stay the API's", async () => {
    const ids = [await recording("rt-1"), await recording("rt-2")];
    const suite = await call("POST", "/api/suites", { name: "rt", recordingIds: ids, defaults: { retries: 2 } });
    expect(suite.body.defaults).toEqual({ retries: 2 });
    const started = await call("POST", `/api/suites/${suite.body.id}/runs`, {});
    expect(started.body.runs.map((r: { retries: number }) => r.retries)).toEqual([2, 2]);
    // MAX_RETRIES (infrastructure errors) is not the suite's to change: the run and its job keep the API's.
    expect(started.body.runs.map((r: { maxAttempts: number }) => r.maxAttempts)).toEqual([
      DEFAULTS.maxAttempts,
      DEFAULTS.maxAttempts,
    ]);
    await t.runQueue.settle();
    expect((await t.inspectQueue.getJob(started.body.runs[0].id))?.opts.attempts).toBe(DEFAULTS.maxAttempts);
    const overridden = await call("POST", `/api/suites/${suite.body.id}/runs`, { retries: 0 });
    expect(overridden.body.runs.map((r: { retries: number }) => r.retries)).toEqual([0, 0]);
    const viewed = await call("GET", `/api/runs/${overridden.body.runs[1].id}`);
    expect(viewed.body).toMatchObject({ retries: 0, testFailures: 0, flaky: false, attempts: [] });
    // Neither: no retry.
    const plain = await call("POST", "/api/suites", { name: "rt-default", recordingIds: ids });
    const byDefault = await call("POST", `/api/suites/${plain.body.id}/runs`, {});
    expect(byDefault.body.runs[0]).toMatchObject({ retries: 0, maxAttempts: DEFAULTS.maxAttempts });
    for (const [payload, field] of [
      [{ retries: 6 }, "body.retries"],
      [{ retries: 1.5 }, "body.retries"],
      [{ maxParallel: 2 }, "maxParallel"],
    ] as const) {
      const response = await call("POST", `/api/suites/${suite.body.id}/runs`, payload);
      expect(response.status, JSON.stringify(payload)).toBe(400);
      expect(JSON.stringify(response.body.error)).toContain(field);
    }
  });
});
