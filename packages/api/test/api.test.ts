import { writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { cancelChannel } from "@conveyor/core";
import { claimRun } from "@conveyor/db";
import type { LightMyRequestResponse } from "fastify";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ADMIN_TOKEN, auth, createProjectViaApi, createTestApp, sampleRecording, type TestApp } from "./helpers.ts";

interface ErrorEnvelope {
  error: {
    code: string;
    message: string;
    details?: { fields?: { field: string; message: string }[] };
    requestId: string;
  };
}

let t: TestApp;
let projectA: { id: string; apiKey: string };
let projectB: { id: string; apiKey: string };

beforeAll(async () => {
  t = await createTestApp("api");
  projectA = await createProjectViaApi(t.app, "Project A");
  projectB = await createProjectViaApi(t.app, "Project B");
});

afterAll(async () => {
  await t?.close();
});

async function count(table: string, where = "true", params: unknown[] = []): Promise<number> {
  const [row] = await t.db.query<{ n: number }>(`select count(*)::int as n from ${table} where ${where}`, params);
  return row?.n ?? -1;
}

async function jobCount(): Promise<number> {
  await t.runQueue.settle();
  const counts = await t.inspectQueue.getJobCounts(
    "waiting",
    "prioritized",
    "delayed",
    "active",
    "completed",
    "failed",
    "waiting-children",
  );
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
}

/** Everything a request could have written: rows and queued jobs. */
async function snapshot() {
  return {
    projects: await count("projects"),
    runs: await count("runs"),
    recordings: await count("recordings"),
    runEvents: await count("run_events"),
    jobs: await jobCount(),
  };
}

/** Asserts an error envelope with the given status and code; returns it. */
function expectError(response: LightMyRequestResponse, status: number, code: string): ErrorEnvelope["error"] {
  expect(response.statusCode, response.body).toBe(status);
  expect(response.headers["content-type"]).toMatch(/^application\/json/);
  const body = response.json() as ErrorEnvelope;
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe("string");
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(body.error.requestId).toMatch(/^req_/);
  expect(response.headers["x-request-id"]).toBe(body.error.requestId);
  return body.error;
}

/** The text a client sees of an error: its message and the fields of its details. */
function errorText(error: ErrorEnvelope["error"]): string {
  return `${error.message} ${JSON.stringify(error.details ?? {})}`;
}

async function postRun(apiKey: string, payload: unknown, headers: Record<string, string> = {}) {
  return t.app.inject({
    method: "POST",
    url: "/api/runs",
    headers: { ...auth(apiKey), ...headers },
    payload: payload as object,
  });
}

async function createRunOk(apiKey: string, payload: Record<string, unknown> = { recording: sampleRecording() }) {
  const response = await postRun(apiKey, payload);
  expect(response.statusCode, response.body).toBe(202);
  return response.json() as { id: string; status: string; priority: number };
}

async function createRecordingOk(apiKey: string, name = "stored") {
  const response = await t.app.inject({
    method: "POST",
    url: "/api/recordings",
    headers: auth(apiKey),
    payload: sampleRecording(name),
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as { id: string };
}

describe("POST /api/projects", () => {
  it("creates a project and returns its key once, storing only a hash", async () => {
    const response = await t.app.inject({
      method: "POST",
      url: "/api/projects",
      headers: auth(ADMIN_TOKEN),
      payload: { name: "Keys" },
    });
    expect(response.statusCode).toBe(201);
    const body = response.json() as { project: { id: string; name: string; createdAt: string }; apiKey: string };
    expect(body.project.id).toMatch(/^prj_/);
    expect(body.project.name).toBe("Keys");
    expect(body.apiKey).toMatch(/^cvk_.{20,}/);

    const rows = await t.db.query<Record<string, unknown>>("select * from api_keys where project_id = $1", [
      body.project.id,
    ]);
    expect(rows).toHaveLength(1);
    for (const value of Object.values(rows[0] ?? {})) {
      expect(String(value)).not.toContain(body.apiKey);
    }
    // The key works.
    const list = await t.app.inject({ method: "GET", url: "/api/runs", headers: auth(body.apiKey) });
    expect(list.statusCode).toBe(200);
  });

  it.each([
    ["no token", {}],
    ["a wrong token", auth("wrong-admin-token-0123456789")],
    ["a project key", { authorization: "Bearer cvk_notTheAdminToken" }],
    ["another scheme", { authorization: `Basic ${ADMIN_TOKEN}` }],
  ])("answers 401 with %s and creates nothing", async (_label, headers) => {
    const before = await snapshot();
    const response = await t.app.inject({ method: "POST", url: "/api/projects", headers, payload: { name: "nope" } });
    expectError(response, 401, "unauthorized");
    expect(await snapshot()).toEqual(before);
  });

  it("refuses a project key as admin token", async () => {
    const response = await t.app.inject({
      method: "POST",
      url: "/api/projects",
      headers: auth(projectA.apiKey),
      payload: { name: "nope" },
    });
    expectError(response, 401, "unauthorized");
  });

  it("names the field of an invalid body", async () => {
    const response = await t.app.inject({
      method: "POST",
      url: "/api/projects",
      headers: auth(ADMIN_TOKEN),
      payload: { name: "" },
    });
    expect(errorText(expectError(response, 400, "validation_failed"))).toContain("name");
  });
});

describe("authentication", () => {
  it.each([
    ["no Authorization header", {}],
    ["an unknown key", { authorization: "Bearer cvk_doesNotExist0123456789" }],
    ["a malformed key", { authorization: "Bearer garbage" }],
    ["an empty bearer", { authorization: "Bearer " }],
  ])("answers 401 to %s", async (_label, headers) => {
    for (const [method, url] of [
      ["GET", "/api/runs"],
      ["GET", "/api/recordings"],
    ] as const) {
      const response = await t.app.inject({ method, url, headers });
      expectError(response, 401, "unauthorized");
    }
    const before = await snapshot();
    const response = await t.app.inject({
      method: "POST",
      url: "/api/runs",
      headers,
      payload: { recording: sampleRecording() },
    });
    expectError(response, 401, "unauthorized");
    expect(await snapshot()).toEqual(before);
  });
});

describe("recordings", () => {
  it("stores, lists, reads and deletes a recording", async () => {
    const created = await t.app.inject({
      method: "POST",
      url: "/api/recordings",
      headers: auth(projectA.apiKey),
      payload: sampleRecording("signup"),
    });
    expect(created.statusCode, created.body).toBe(201);
    const body = created.json() as { id: string; name: string; actionCount: number; sourceFormat: string };
    expect(body.id).toMatch(/^rec_/);
    expect(body).toMatchObject({ name: "signup", actionCount: 4, sourceFormat: "conveyor" });
    expect(created.headers.location).toBe(`/api/recordings/${body.id}`);

    const list = await t.app.inject({ method: "GET", url: "/api/recordings", headers: auth(projectA.apiKey) });
    expect(list.statusCode).toBe(200);
    const listed = list.json() as { items: { id: string }[]; nextCursor: string | null };
    expect(listed.items.map((r) => r.id)).toContain(body.id);

    const one = await t.app.inject({
      method: "GET",
      url: `/api/recordings/${body.id}`,
      headers: auth(projectA.apiKey),
    });
    expect(one.statusCode).toBe(200);
    expect(one.json()).toMatchObject({ id: body.id, name: "signup", recording: sampleRecording("signup") });

    const deleted = await t.app.inject({
      method: "DELETE",
      url: `/api/recordings/${body.id}`,
      headers: auth(projectA.apiKey),
    });
    expect(deleted.statusCode).toBe(204);
    expect(deleted.body).toBe("");
    const gone = await t.app.inject({
      method: "GET",
      url: `/api/recordings/${body.id}`,
      headers: auth(projectA.apiKey),
    });
    expectError(gone, 404, "not_found");
    const again = await t.app.inject({
      method: "DELETE",
      url: `/api/recordings/${body.id}`,
      headers: auth(projectA.apiKey),
    });
    expectError(again, 404, "not_found");
  });

  it("names the field of an invalid recording and writes nothing", async () => {
    const before = await snapshot();
    const response = await t.app.inject({
      method: "POST",
      url: "/api/recordings",
      headers: auth(projectA.apiKey),
      payload: { name: "bad", actions: [{ type: "navigate", url: "https://x.test" }, { type: "click" }] },
    });
    expect(errorText(expectError(response, 400, "validation_failed"))).toContain("actions[1].selector");
    expect(await snapshot()).toEqual(before);
  });
});

describe("POST /api/runs", () => {
  it("accepts an inline recording: 202, Location, a queued row, event and job", async () => {
    const response = await postRun(projectA.apiKey, { recording: sampleRecording(), priority: 3 });
    expect(response.statusCode, response.body).toBe(202);
    const body = response.json() as { id: string; status: string; priority: number; projectId: string };
    expect(body.id).toMatch(/^run_/);
    expect(body).toMatchObject({ status: "queued", priority: 3, projectId: projectA.id, recordingId: null });
    expect(response.headers.location).toBe(`/api/runs/${body.id}`);

    const [row] = await t.db.query<Record<string, unknown>>("select * from runs where id = $1", [body.id]);
    expect(row).toMatchObject({
      project_id: projectA.id,
      status: "queued",
      priority: 3,
      attempt: 0,
      max_attempts: 3,
      timeout_ms: 60_000,
      action_timeout_ms: 5_000,
      actions_total: 4,
    });
    const events = await t.db.query<{ type: string }>("select type from run_events where run_id = $1", [body.id]);
    expect(events.map((e) => e.type)).toEqual(["queued"]);

    // The 202 does not wait for Redis (the committed row is the promise): the job follows.
    await t.runQueue.settle();
    const job = await t.inspectQueue.getJob(body.id);
    expect(job).toBeDefined();
    expect(job?.id).toBe(body.id);
    expect(job?.data).toEqual({ runId: body.id, projectId: projectA.id });
    expect(job?.opts.priority).toBe(3);
    expect(await job?.getState()).toBe("prioritized");
  });

  it("accepts a stored recording by id, with the default priority", async () => {
    const recording = await createRecordingOk(projectA.apiKey, "by-id");
    const response = await postRun(projectA.apiKey, { recordingId: recording.id, timeoutMs: 120_000 });
    expect(response.statusCode, response.body).toBe(202);
    const body = response.json() as {
      id: string;
      priority: number;
      recordingId: string;
      timeoutMs: number;
      name: string;
    };
    expect(body).toMatchObject({ recordingId: recording.id, timeoutMs: 120_000, name: "by-id", status: "queued" });
    expect(response.headers.location).toBe(`/api/runs/${body.id}`);
    await t.runQueue.settle();
    const job = await t.inspectQueue.getJob(body.id);
    expect(job?.opts.priority).toBe(body.priority);
    expect(body.priority).toBe(5);
  });

  it.each([1, 10])("gives the job the run's priority (%i)", async (priority) => {
    const run = await createRunOk(projectA.apiKey, { recording: sampleRecording(), priority });
    expect(run.priority).toBe(priority);
    await t.runQueue.settle();
    expect((await t.inspectQueue.getJob(run.id))?.opts.priority).toBe(priority);
  });

  describe("Idempotency-Key", () => {
    it("returns the same run for the same key and body", async () => {
      const payload = { recording: sampleRecording("idem"), priority: 4 };
      const headers = { "idempotency-key": "idem-key-1" };
      const before = await snapshot();
      const first = await postRun(projectA.apiKey, payload, headers);
      const second = await postRun(projectA.apiKey, payload, headers);
      expect(first.statusCode, first.body).toBe(202);
      expect(second.statusCode, second.body).toBe(202);
      const firstId = (first.json() as { id: string }).id;
      expect((second.json() as { id: string }).id).toBe(firstId);
      expect(second.headers.location).toBe(`/api/runs/${firstId}`);
      expect(second.headers["idempotent-replayed"]).toBe("true");
      expect(await count("runs", "project_id = $1 and idempotency_key = $2", [projectA.id, "idem-key-1"])).toBe(1);
      expect(await snapshot()).toEqual({
        ...before,
        runs: before.runs + 1,
        runEvents: before.runEvents + 1,
        jobs: before.jobs + 1,
      });
    });

    it("treats the same body with its keys in another order as the same request", async () => {
      const headers = { "idempotency-key": "idem-key-order" };
      const first = await postRun(projectA.apiKey, { priority: 3, recording: sampleRecording("order") }, headers);
      const reordered = JSON.parse(JSON.stringify({ recording: sampleRecording("order"), priority: 3 }));
      reordered.recording = Object.fromEntries(Object.entries(reordered.recording).reverse());
      const second = await postRun(projectA.apiKey, reordered, headers);
      expect(first.statusCode, first.body).toBe(202);
      expect(second.statusCode, second.body).toBe(202);
      expect((second.json() as { id: string }).id).toBe((first.json() as { id: string }).id);
    });

    it("refuses the same key with another body (422) and writes nothing", async () => {
      const headers = { "idempotency-key": "idem-key-2" };
      const first = await postRun(projectA.apiKey, { recording: sampleRecording("first") }, headers);
      expect(first.statusCode).toBe(202);
      const before = await snapshot();
      const second = await postRun(projectA.apiKey, { recording: sampleRecording("second") }, headers);
      expectError(second, 422, "idempotency_key_reused");
      const third = await postRun(projectA.apiKey, { recording: sampleRecording("first"), priority: 9 }, headers);
      expectError(third, 422, "idempotency_key_reused");
      expect(await snapshot()).toEqual(before);
    });

    it("does not share keys between projects", async () => {
      const headers = { "idempotency-key": "idem-key-shared" };
      const a = await postRun(projectA.apiKey, { recording: sampleRecording() }, headers);
      const b = await postRun(projectB.apiKey, { recording: sampleRecording() }, headers);
      expect(a.statusCode).toBe(202);
      expect(b.statusCode).toBe(202);
      expect((b.json() as { id: string }).id).not.toBe((a.json() as { id: string }).id);
    });
  });

  describe("bad input: a 4xx naming the field, nothing written", () => {
    const inlineRecording = sampleRecording("bad-input");

    async function expectRejected(
      send: () => Promise<LightMyRequestResponse>,
      status: number,
      code: string,
      mentions: string[],
    ): Promise<void> {
      const before = await snapshot();
      const response = await send();
      const error = expectError(response, status, code);
      for (const text of mentions) expect(errorText(error)).toContain(text);
      expect(await snapshot()).toEqual(before);
    }

    it("malformed JSON → 400 invalid_json", async () => {
      await expectRejected(
        () =>
          t.app.inject({
            method: "POST",
            url: "/api/runs",
            headers: { ...auth(projectA.apiKey), "content-type": "application/json" },
            payload: '{"recording": {"name": "x", ',
          }),
        400,
        "invalid_json",
        [],
      );
    });

    it("an empty JSON body → 400 invalid_json", async () => {
      await expectRejected(
        () =>
          t.app.inject({
            method: "POST",
            url: "/api/runs",
            headers: { ...auth(projectA.apiKey), "content-type": "application/json" },
            payload: "",
          }),
        400,
        "invalid_json",
        [],
      );
    });

    it('priority: "high" → 400 naming priority', async () => {
      await expectRejected(
        () => postRun(projectA.apiKey, { recording: inlineRecording, priority: "high" }),
        400,
        "validation_failed",
        ["body.priority"],
      );
    });

    it("priority out of range → 400 naming priority", async () => {
      await expectRejected(
        () => postRun(projectA.apiKey, { recording: inlineRecording, priority: 11 }),
        400,
        "validation_failed",
        ["body.priority"],
      );
    });

    it("timeoutMs: -5 → 400 naming timeoutMs", async () => {
      await expectRejected(
        () => postRun(projectA.apiKey, { recording: inlineRecording, timeoutMs: -5 }),
        400,
        "validation_failed",
        ["body.timeoutMs"],
      );
    });

    it("an oversized body → 413", async () => {
      const big = {
        recording: { ...inlineRecording, actions: [{ type: "navigate", url: `https://x.test/${"a".repeat(70_000)}` }] },
      };
      await expectRejected(() => postRun(projectA.apiKey, big), 413, "payload_too_large", []);
    });

    it("an unknown action type → 400 naming actions[1].type", async () => {
      const recording = {
        ...inlineRecording,
        actions: [
          { type: "navigate", url: "https://x.test" },
          { type: "teleport", selector: "#a" },
        ],
      };
      await expectRejected(() => postRun(projectA.apiKey, { recording }), 400, "validation_failed", [
        "body.recording.actions[1].type",
      ]);
    });

    it("neither recordingId nor recording → 400 naming recordingId", async () => {
      await expectRejected(() => postRun(projectA.apiKey, { priority: 2 }), 400, "validation_failed", ["recordingId"]);
    });

    it("both recordingId and recording → 400 naming them", async () => {
      const stored = await createRecordingOk(projectA.apiKey, "both");
      await expectRejected(
        () => postRun(projectA.apiKey, { recordingId: stored.id, recording: inlineRecording }),
        400,
        "validation_failed",
        ["body.recording", "recordingId"],
      );
    });

    it("an unknown top-level field → 400 naming it", async () => {
      await expectRejected(
        () => postRun(projectA.apiKey, { recording: inlineRecording, prioritty: 2 }),
        400,
        "validation_failed",
        ["prioritty"],
      );
    });

    it("a bad variable name → 400 naming variables", async () => {
      await expectRejected(
        () => postRun(projectA.apiKey, { recording: inlineRecording, variables: { "not a name": "x" } }),
        400,
        "validation_failed",
        ["body.variables"],
      );
    });

    it("a body that is not an object → 400", async () => {
      await expectRejected(() => postRun(projectA.apiKey, [1, 2, 3]), 400, "validation_failed", ["body"]);
    });

    it("an unknown recordingId → 404 naming recordingId", async () => {
      await expectRejected(
        () => postRun(projectA.apiKey, { recordingId: "rec_00000000000000000000000000" }),
        404,
        "not_found",
        ["recordingId"],
      );
      await expectRejected(() => postRun(projectA.apiKey, { recordingId: "not-an-id" }), 404, "not_found", [
        "recordingId",
      ]);
    });

    it("another project's recordingId → 404", async () => {
      const stored = await createRecordingOk(projectA.apiKey, "a-private");
      await expectRejected(() => postRun(projectB.apiKey, { recordingId: stored.id }), 404, "not_found", [
        "recordingId",
      ]);
    });

    it("an Idempotency-Key too long → 400 naming the header", async () => {
      await expectRejected(
        () => postRun(projectA.apiKey, { recording: inlineRecording }, { "idempotency-key": "k".repeat(300) }),
        400,
        "validation_failed",
        ["idempotency-key"],
      );
    });

    it("an invalid cursor → 400 naming cursor", async () => {
      for (const cursor of ["garbage", Buffer.from('["not a date","x"]').toString("base64url")]) {
        await expectRejected(
          () => t.app.inject({ method: "GET", url: `/api/runs?cursor=${cursor}`, headers: auth(projectA.apiKey) }),
          400,
          "validation_failed",
          ["cursor"],
        );
      }
      await expectRejected(
        () => t.app.inject({ method: "GET", url: "/api/recordings?cursor=garbage", headers: auth(projectA.apiKey) }),
        400,
        "validation_failed",
        ["cursor"],
      );
    });

    it("an unknown status filter → 400 naming status", async () => {
      await expectRejected(
        () => t.app.inject({ method: "GET", url: "/api/runs?status=queued,exploded", headers: auth(projectA.apiKey) }),
        400,
        "validation_failed",
        ["status", "exploded"],
      );
    });

    it("a bad limit → 400 naming limit", async () => {
      await expectRejected(
        () => t.app.inject({ method: "GET", url: "/api/runs?limit=1000", headers: auth(projectA.apiKey) }),
        400,
        "validation_failed",
        ["limit"],
      );
    });
  });
});

describe("tenant isolation", () => {
  it("project B gets 404 for project A's run and recording, and empty lists", async () => {
    const { apiKey } = await createProjectViaApi(t.app, "Empty B");
    const run = await createRunOk(projectA.apiKey);
    const recording = await createRecordingOk(projectA.apiKey, "isolated");
    await t.artifacts.put(`${run.id}/1/shot.png`, Buffer.from("png"), "image/png");
    const before = await snapshot();

    for (const [method, url] of [
      ["GET", `/api/runs/${run.id}`],
      ["GET", `/api/runs/${run.id}/events`],
      ["POST", `/api/runs/${run.id}/cancel`],
      ["GET", `/api/runs/${run.id}/artifacts/1/shot.png`],
      ["GET", `/api/recordings/${recording.id}`],
      ["DELETE", `/api/recordings/${recording.id}`],
    ] as const) {
      const response = await t.app.inject({ method, url, headers: auth(apiKey) });
      const error = expectError(response, 404, "not_found");
      expect(error.message).not.toContain("Project A");
    }
    for (const url of ["/api/runs", "/api/recordings", "/api/runs?status=queued"]) {
      const response = await t.app.inject({ method: "GET", url, headers: auth(apiKey) });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ items: [], nextCursor: null });
    }
    expect(await snapshot()).toEqual(before);

    // A still sees both, untouched.
    const own = await t.app.inject({ method: "GET", url: `/api/runs/${run.id}`, headers: auth(projectA.apiKey) });
    expect((own.json() as { status: string }).status).toBe("queued");
    await t.runQueue.settle();
    expect(await t.inspectQueue.getJob(run.id)).toBeDefined();
    const rec = await t.app.inject({
      method: "GET",
      url: `/api/recordings/${recording.id}`,
      headers: auth(projectA.apiKey),
    });
    expect(rec.statusCode).toBe(200);
  });
});

describe("GET /api/runs", () => {
  it("lists newest first, filters by status and paginates with a cursor", async () => {
    const project = await createProjectViaApi(t.app, "Listing");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const start = Date.now();
      while (Date.now() === start) await new Promise((resolve) => setTimeout(resolve, 1));
      ids.push((await createRunOk(project.apiKey)).id);
    }
    const newestFirst = [...ids].reverse();
    const [cancelA, cancelB] = [ids[1], ids[3]];
    for (const id of [cancelA, cancelB]) {
      const response = await t.app.inject({
        method: "POST",
        url: `/api/runs/${id}/cancel`,
        headers: auth(project.apiKey),
      });
      expect(response.statusCode).toBe(200);
    }

    const all = await t.app.inject({ method: "GET", url: "/api/runs", headers: auth(project.apiKey) });
    expect(all.statusCode).toBe(200);
    const allBody = all.json() as { items: { id: string; status: string }[]; nextCursor: string | null };
    expect(allBody.items.map((r) => r.id)).toEqual(newestFirst);
    expect(allBody.nextCursor).toBeNull();

    const cancelled = await t.app.inject({
      method: "GET",
      url: "/api/runs?status=cancelled",
      headers: auth(project.apiKey),
    });
    expect((cancelled.json() as { items: { id: string }[] }).items.map((r) => r.id)).toEqual([cancelB, cancelA]);
    const both = await t.app.inject({
      method: "GET",
      url: "/api/runs?status=queued,cancelled",
      headers: auth(project.apiKey),
    });
    expect((both.json() as { items: { id: string }[] }).items).toHaveLength(5);
    const queued = await t.app.inject({ method: "GET", url: "/api/runs?status=queued", headers: auth(project.apiKey) });
    expect((queued.json() as { items: { id: string; status: string }[] }).items.map((r) => r.id)).toEqual(
      newestFirst.filter((id) => id !== cancelA && id !== cancelB),
    );

    const seen: string[] = [];
    const sizes: number[] = [];
    let url = "/api/runs?limit=2";
    for (let page = 0; page < 10; page++) {
      const response = await t.app.inject({ method: "GET", url, headers: auth(project.apiKey) });
      expect(response.statusCode).toBe(200);
      const body = response.json() as { items: { id: string }[]; nextCursor: string | null };
      seen.push(...body.items.map((r) => r.id));
      sizes.push(body.items.length);
      if (body.nextCursor === null) break;
      url = `/api/runs?limit=2&cursor=${encodeURIComponent(body.nextCursor)}`;
    }
    expect(sizes).toEqual([2, 2, 1]);
    expect(seen).toEqual(newestFirst);
  });
});

describe("GET /api/runs/:id and events", () => {
  it("shows a queued run with no actions and its queued event", async () => {
    const run = await createRunOk(projectA.apiKey, { recording: sampleRecording("shown"), priority: 7 });
    const response = await t.app.inject({ method: "GET", url: `/api/runs/${run.id}`, headers: auth(projectA.apiKey) });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      id: run.id,
      projectId: projectA.id,
      name: "shown",
      status: "queued",
      priority: 7,
      attempt: 0,
      maxAttempts: 3,
      counts: { total: 4, passed: 0, failed: 0, skipped: 0 },
      error: null,
      actions: [],
      links: { self: `/api/runs/${run.id}`, events: `/api/runs/${run.id}/events` },
    });

    const events = await t.app.inject({
      method: "GET",
      url: `/api/runs/${run.id}/events`,
      headers: auth(projectA.apiKey),
    });
    expect(events.statusCode).toBe(200);
    const items = (events.json() as { items: { type: string; attempt: number }[] }).items;
    expect(items.map((e) => e.type)).toEqual(["queued"]);
    expect(items[0]).toMatchObject({ attempt: 0, data: { priority: 7 } });
  });

  it.each(["run_00000000000000000000000000", "rec_00000000000000000000000000", "nonsense"])(
    "answers 404 with the envelope for %s",
    async (id) => {
      for (const url of [`/api/runs/${id}`, `/api/runs/${id}/events`]) {
        const response = await t.app.inject({ method: "GET", url, headers: auth(projectA.apiKey) });
        expect(expectError(response, 404, "not_found").message).toContain(id);
      }
    },
  );

  it("answers 404 with the envelope for an unknown route", async () => {
    const response = await t.app.inject({ method: "GET", url: "/api/nothing-here", headers: auth(projectA.apiKey) });
    expectError(response, 404, "not_found");
  });
});

describe("POST /api/runs/:id/cancel", () => {
  it("cancels a queued run, removes its job, logs it; a second cancel is 409", async () => {
    const run = await createRunOk(projectA.apiKey);
    await t.runQueue.settle();
    expect(await t.inspectQueue.getJob(run.id)).toBeDefined();

    const response = await t.app.inject({
      method: "POST",
      url: `/api/runs/${run.id}/cancel`,
      headers: auth(projectA.apiKey),
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ id: run.id, status: "cancelled", error: { kind: "cancelled" } });
    expect(await t.inspectQueue.getJob(run.id)).toBeUndefined();
    const events = await t.db.query<{ type: string }>("select type from run_events where run_id = $1 order by id", [
      run.id,
    ]);
    expect(events.map((e) => e.type)).toEqual(["queued", "cancelled"]);

    const before = await snapshot();
    const again = await t.app.inject({
      method: "POST",
      url: `/api/runs/${run.id}/cancel`,
      headers: auth(projectA.apiKey),
    });
    expect(expectError(again, 409, "conflict").message).toContain("cancelled");
    expect(await snapshot()).toEqual(before);
  });

  it("asks the workers to stop a running run (202) and flags it for whoever claims it next", async () => {
    const run = await createRunOk(projectA.apiKey);
    expect((await claimRun(t.db.db, projectA.id, run.id, "test-worker"))?.status).toBe("running");
    const subscriber = t.redis.duplicate();
    const heard: string[] = [];
    subscriber.on("message", (_channel: string, message: string) => heard.push(message));
    await subscriber.subscribe(cancelChannel(t.prefix));
    try {
      const response = await t.app.inject({
        method: "POST",
        url: `/api/runs/${run.id}/cancel`,
        headers: auth(projectA.apiKey),
      });
      expect(response.statusCode, response.body).toBe(202);
      expect(response.json()).toMatchObject({ id: run.id, status: "running", cancelRequested: true });
      await vi.waitFor(() => expect(heard).toEqual([run.id]));
    } finally {
      subscriber.disconnect();
    }
    const after = await t.app.inject({ method: "GET", url: `/api/runs/${run.id}`, headers: auth(projectA.apiKey) });
    expect((after.json() as { status: string; cancelRequestedAt: string | null }).cancelRequestedAt).not.toBeNull();
    const events = await t.app.inject({
      method: "GET",
      url: `/api/runs/${run.id}/events`,
      headers: auth(projectA.apiKey),
    });
    expect((events.json() as { items: { type: string }[] }).items.map((e) => e.type)).toEqual([
      "queued",
      "started",
      "cancel_requested",
    ]);
  });

  it("answers 404 for an unknown run", async () => {
    const response = await t.app.inject({
      method: "POST",
      url: "/api/runs/run_00000000000000000000000000/cancel",
      headers: auth(projectA.apiKey),
    });
    expectError(response, 404, "not_found");
  });
});

describe("variables", () => {
  it("never returns a submitted value, only the names", async () => {
    const secret = "sup3r-s3cret-pa55word-value";
    const headers = { "idempotency-key": "secret-run" };
    const payload = {
      recording: sampleRecording("secret"),
      variables: { PASSWORD: secret, USER_NAME: "alice-secret-user" },
    };
    const responses: LightMyRequestResponse[] = [];
    const created = await postRun(projectA.apiKey, payload, headers);
    expect(created.statusCode).toBe(202);
    responses.push(created);
    const { id } = created.json() as { id: string };
    expect((created.json() as { variables: string[] }).variables.sort()).toEqual(["PASSWORD", "USER_NAME"]);

    responses.push(await postRun(projectA.apiKey, payload, headers)); // idempotent replay
    for (const url of [`/api/runs/${id}`, `/api/runs/${id}/events`, "/api/runs", "/api/runs?status=queued"]) {
      responses.push(await t.app.inject({ method: "GET", url, headers: auth(projectA.apiKey) }));
    }
    responses.push(
      await t.app.inject({ method: "POST", url: `/api/runs/${id}/cancel`, headers: auth(projectA.apiKey) }),
    );

    const got = await t.app.inject({ method: "GET", url: `/api/runs/${id}`, headers: auth(projectA.apiKey) });
    expect((got.json() as { variables: string[] }).variables.sort()).toEqual(["PASSWORD", "USER_NAME"]);
    responses.push(got);
    for (const response of responses) {
      expect(response.statusCode).toBeLessThan(300);
      expect(response.body).not.toContain(secret);
      expect(response.body).not.toContain("alice-secret-user");
    }
    // It is stored, for the worker.
    const [row] = await t.db.query<{ variables: Record<string, string> }>("select variables from runs where id = $1", [
      id,
    ]);
    expect(row?.variables.PASSWORD).toBe(secret);
  });
});

describe("health", () => {
  it("GET /api/health → 200 without credentials", async () => {
    const response = await t.app.inject({ method: "GET", url: "/api/health" });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: "ok" });
  });

  it("GET /api/health/ready → 200 with services up, 503 once shutting down", async () => {
    const ready = await t.app.inject({ method: "GET", url: "/api/health/ready" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({
      status: "ready",
      services: { database: { status: "up" }, redis: { status: "up" } },
    });

    t.shuttingDown.value = true;
    try {
      const draining = await t.app.inject({ method: "GET", url: "/api/health/ready" });
      expect(draining.statusCode).toBe(503);
      expect(draining.json()).toMatchObject({ status: "not_ready", reason: "shutting down" });
    } finally {
      t.shuttingDown.value = false;
    }
    expect((await t.app.inject({ method: "GET", url: "/api/health/ready" })).statusCode).toBe(200);
  });
});

describe("OpenAPI", () => {
  it("GET /docs/json is an OpenAPI 3 document with the public paths", async () => {
    const response = await t.app.inject({ method: "GET", url: "/docs/json" });
    expect(response.statusCode).toBe(200);
    const doc = response.json() as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ["/api/runs", "/api/runs/{id}", "/api/recordings", "/api/projects"]) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
    expect(Object.keys(doc.paths["/api/runs"] ?? {})).toEqual(expect.arrayContaining(["get", "post"]));
  });

  it("GET /docs serves the HTML UI", async () => {
    let url = "/docs";
    let response = await t.app.inject({ method: "GET", url });
    for (let hops = 0; hops < 5 && response.statusCode >= 300 && response.statusCode < 400; hops++) {
      const location = response.headers.location;
      expect(typeof location).toBe("string");
      url = new URL(String(location), `http://localhost${url}`).pathname;
      response = await t.app.inject({ method: "GET", url });
    }
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/text\/html/);
    expect(response.body).toMatch(/<html/i);
  });
});

describe("artifacts", () => {
  const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);

  it("serves a run's artifact to its project only", async () => {
    const run = await createRunOk(projectA.apiKey);
    await t.artifacts.put(`${run.id}/1/shot.png`, PNG, "image/png");
    const url = `/api/runs/${run.id}/artifacts/1/shot.png`;

    const own = await t.app.inject({ method: "GET", url, headers: auth(projectA.apiKey) });
    expect(own.statusCode).toBe(200);
    expect(own.headers["content-type"]).toBe("image/png");
    expect(own.rawPayload.equals(PNG)).toBe(true);

    expectError(await t.app.inject({ method: "GET", url, headers: auth(projectB.apiKey) }), 404, "not_found");
    expectError(await t.app.inject({ method: "GET", url }), 401, "unauthorized");
    expectError(
      await t.app.inject({
        method: "GET",
        url: `/api/runs/${run.id}/artifacts/1/missing.png`,
        headers: auth(projectA.apiKey),
      }),
      404,
      "not_found",
    );
  });

  it("never serves a file outside the run's artifacts through ..", async () => {
    const run = await createRunOk(projectA.apiKey);
    const other = await createRunOk(projectB.apiKey);
    await t.artifacts.put(`${run.id}/1/shot.png`, PNG, "image/png");
    await t.artifacts.put(`${other.id}/1/shot.png`, PNG, "image/png");
    // A file beside the store directory, and one of another project's run.
    await writeFile(join(t.artifactDir, "secret.txt"), "top secret");
    // Literal `..` segments: URL normalisation removes them before routing.
    for (const path of [`../${other.id}/1/shot.png`, "../../secret.txt", "1/../../../secret.txt", ".."]) {
      const response = await t.app.inject({
        method: "GET",
        url: `/api/runs/${run.id}/artifacts/${path}`,
        headers: auth(projectA.apiKey),
      });
      expect(response.statusCode, `${path}: ${response.body}`).toBe(404);
      expect(response.body).not.toContain("top secret");
      expect(response.rawPayload.equals(PNG)).toBe(false);
    }
    // Encoded slashes survive routing: the artifact route itself must refuse the `..` key.
    for (const path of [
      `..%2F${other.id}%2F1%2Fshot.png`,
      "..%2F..%2Fsecret.txt",
      "1%2F..%2F..%2F..%2Fsecret.txt",
      "%2E%2E%2F%2E%2E%2Fsecret.txt",
    ]) {
      const response = await t.app.inject({
        method: "GET",
        url: `/api/runs/${run.id}/artifacts/${path}`,
        headers: auth(projectA.apiKey),
      });
      const error = expectError(response, 404, "not_found");
      expect(error.message, path).toContain("artifact");
      expect(response.body).not.toContain("top secret");
    }
  });

  it("refuses `..` sent raw over HTTP, without client-side normalisation", async () => {
    const run = await createRunOk(projectA.apiKey);
    await t.artifacts.put(`${run.id}/1/shot.png`, PNG, "image/png");
    await writeFile(join(t.artifactDir, "secret.txt"), "top secret");
    // Closed with the app in afterAll.
    const address = await t.app.listen({ port: 0, host: "127.0.0.1" });
    const ok = await rawGet(`${address}/api/runs/${run.id}/artifacts/1/shot.png`, projectA.apiKey);
    expect(ok.status).toBe(200);
    for (const path of ["../../secret.txt", "1/../../../secret.txt", "%2E%2E/%2E%2E/secret.txt"]) {
      const { status, body } = await rawGet(`${address}/api/runs/${run.id}/artifacts/${path}`, projectA.apiKey);
      expect(status, `${path}: ${body}`).toBe(404);
      expect(body).not.toContain("top secret");
      expect((JSON.parse(body) as ErrorEnvelope).error.code).toBe("not_found");
    }
  });
});

/** A GET whose path is sent exactly as given (fetch and inject would normalise `..`). */
function rawGet(url: string, apiKey: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url);
  const path = url.slice(url.indexOf("/", "http://".length));
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, method: "GET", headers: auth(apiKey) }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}
