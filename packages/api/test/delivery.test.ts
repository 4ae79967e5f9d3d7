/**
 * The API's side of the delivery guarantees: a committed run is answered 202 even when Redis
 * refuses its job (the reconciler delivers it), dead letters are listed per project, and a
 * finished run can be retried as a new linked run.
 */
import { claimRun, failUnfinishedRun } from "@conveyor/db";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRunQueue } from "../src/queue.ts";
import { auth, createProjectViaApi, createTestApp, sampleRecording, type TestApp } from "./helpers.ts";

let t: TestApp;
let broken: TestApp;
let deadRedis: Redis;
let a: { id: string; apiKey: string };
let b: { id: string; apiKey: string };

beforeAll(async () => {
  // A real client of a Redis that is not there (port 1): every command fails fast.
  deadRedis = new Redis("redis://127.0.0.1:1", {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  deadRedis.on("error", () => {});
  t = await createTestApp("delivery");
  broken = await createTestApp("delivery-noredis", {
    queue: createRunQueue(deadRedis, { prefix: "cvt-unreachable", policy: { attempts: 3, backoffMs: 1000 } }),
  });
  a = await createProjectViaApi(t.app, "a");
  b = await createProjectViaApi(t.app, "b");
});

afterAll(async () => {
  await Promise.all([t?.close(), broken?.close()]);
  deadRedis?.disconnect();
});

describe("POST /api/runs when Redis refuses the job", () => {
  it("still answers 202 and keeps the run queued for the reconciler", async () => {
    const project = await createProjectViaApi(broken.app, "c");
    const response = await broken.app.inject({
      method: "POST",
      url: "/api/runs",
      headers: auth(project.apiKey),
      payload: { recording: sampleRecording("kept") },
    });
    expect(response.statusCode, response.body).toBe(202);
    const rows = await broken.db.query<{ status: string }>("select status from runs where id = $1", [
      response.json().id,
    ]);
    expect(rows).toEqual([{ status: "queued" }]);
  });
});

describe("dead letters and retries", () => {
  async function deadLetteredRun(apiKey: string, projectId: string): Promise<string> {
    const response = await t.app.inject({
      method: "POST",
      url: "/api/runs",
      headers: auth(apiKey),
      payload: { recording: sampleRecording("doomed"), priority: 2, variables: { USER_NAME: "x" } },
    });
    const id = response.json().id as string;
    await t.runQueue.settle();
    await (await t.inspectQueue.getJob(id))?.remove();
    await claimRun(t.db.db, projectId, id, "w-test");
    await failUnfinishedRun(
      t.db.db,
      projectId,
      id,
      { kind: "transient", message: "gave up after 3 attempt(s): browser crashed" },
      "w-test",
      {
        deadLetter: true,
      },
    );
    return id;
  }

  it("lists runs the queue gave up on, to their own project only", async () => {
    const id = await deadLetteredRun(a.apiKey, a.id);
    const listed = await t.app.inject({ method: "GET", url: "/api/dead-letters", headers: auth(a.apiKey) });
    expect(listed.statusCode).toBe(200);
    const item = listed.json().items.find((r: { id: string }) => r.id === id);
    expect(item).toMatchObject({ status: "errored", attempt: 1, error: { kind: "transient" } });
    expect(item.deadLetteredAt).not.toBeNull();
    expect(item.error.message).toMatch(/gave up after 3 attempt/);
    const other = await t.app.inject({ method: "GET", url: "/api/dead-letters", headers: auth(b.apiKey) });
    expect(other.json().items).toEqual([]);
  });

  it("retries a finished run as a new queued run linked to it", async () => {
    const id = await deadLetteredRun(a.apiKey, a.id);
    const retried = await t.app.inject({ method: "POST", url: `/api/runs/${id}/retry`, headers: auth(a.apiKey) });
    expect(retried.statusCode, retried.body).toBe(202);
    const run = retried.json();
    expect(run).toMatchObject({ status: "queued", retryOf: id, priority: 2, attempt: 0, variables: ["USER_NAME"] });
    expect(run.id).not.toBe(id);
    expect(retried.headers.location).toBe(`/api/runs/${run.id}`);
    expect((await t.inspectQueue.getJob(run.id))?.opts.priority).toBe(2);
    const events = await t.app.inject({ method: "GET", url: `/api/runs/${run.id}/events`, headers: auth(a.apiKey) });
    expect(events.json().items[0]).toMatchObject({ type: "queued", data: { retryOf: id } });
  });

  it("refuses to retry a run that has not finished (409), another project's run (404)", async () => {
    const queued = await t.app.inject({
      method: "POST",
      url: "/api/runs",
      headers: auth(a.apiKey),
      payload: { recording: sampleRecording("busy") },
    });
    const id = queued.json().id;
    const early = await t.app.inject({ method: "POST", url: `/api/runs/${id}/retry`, headers: auth(a.apiKey) });
    expect(early.statusCode).toBe(409);
    expect(early.json().error.message).toMatch(/still queued/);
    const foreign = await t.app.inject({ method: "POST", url: `/api/runs/${id}/retry`, headers: auth(b.apiKey) });
    expect(foreign.statusCode).toBe(404);
  });
});
