/**
 * Live run events over SSE against a listening API on real Postgres and Redis. The run's events
 * are written by the transitions workers use (claimRun, requestRunCancel, finishRun), so what the
 * stream shows is what a worker's progress looks like: a snapshot, every event once in order, the
 * end after the terminal event; a client that reconnects with Last-Event-ID gets exactly what it
 * missed; the project stream filters; a key gets at most STREAM_MAX_PER_KEY streams; another
 * project's run is a 404. The event feed's cursor never skips an id that commits late.
 */
import { createLogger } from "@conveyor/core";
import { claimRun, finishRun, requestRunCancel } from "@conveyor/db";
import { openSse, type SseClient } from "@conveyor/testing/sse";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EventFeed } from "../src/event-feed.ts";
import { auth, createProjectViaApi, createTestApp, type TestApp } from "./helpers.ts";

let t: TestApp;
let base: string;
let p: { id: string; apiKey: string };
let other: { id: string; apiKey: string };
const open: SseClient[] = [];

beforeAll(async () => {
  t = await createTestApp("streams", { streamMaxPerKey: 3, streamPollMs: 50, streamHeartbeatMs: 200 });
  base = await t.app.listen({ port: 0, host: "127.0.0.1" });
  p = await createProjectViaApi(t.app, "streams");
  other = await createProjectViaApi(t.app, "streams-other");
});

afterEach(() => {
  for (const client of open.splice(0)) client.close();
});

afterAll(async () => {
  await t?.close();
});

async function stream(path: string, headers: Record<string, string> = {}, key = p.apiKey): Promise<SseClient> {
  const client = await openSse(`${base}${path}`, { ...auth(key), ...headers });
  open.push(client);
  return client;
}

async function submit(): Promise<string> {
  const response = await t.app.inject({
    method: "POST",
    url: "/api/runs",
    headers: auth(p.apiKey),
    payload: {
      recording: { version: 1, name: "streamed", actions: [{ type: "navigate", url: "https://shop.example.test/" }] },
    },
  });
  expect(response.statusCode, response.body).toBe(202);
  await t.runQueue.settle();
  return response.json().id as string;
}

const outcome = { status: "passed" as const, durationMs: 12, counts: { passed: 1, failed: 0, skipped: 0 } };

describe("GET /api/runs/:id/stream", () => {
  it("sends a snapshot, then every event once in order, live, and ends after the terminal one", async () => {
    const runId = await submit();
    const client = await stream(`/api/runs/${runId}/stream`);
    expect(client.status).toBe(200);
    expect(client.headers.get("content-type")).toContain("text/event-stream");
    expect(client.headers.get("x-accel-buffering")).toBe("no");
    expect(client.headers.get("cache-control")).toContain("no-cache");
    const snapshot = await client.waitFor((e) => e.event === "snapshot");
    expect(snapshot.data).toMatchObject({ id: runId, status: "queued" });
    await client.waitFor((e) => e.data?.type === "queued");
    const claimed = await claimRun(t.db.db, p.id, runId, "w-stream");
    await client.waitFor((e) => e.data?.type === "started");
    await finishRun(t.db.db, p.id, runId, claimed?.attempt ?? 1, outcome, "w-stream");
    const end = await client.waitFor((e) => e.event === "end");
    expect(end.data).toEqual({ runId, status: "passed" });
    await client.ended;
    const events = client.events.filter((e) => e.event === "run-event");
    expect(events.map((e) => [e.data.type, e.data.status])).toEqual([
      ["queued", "queued"],
      ["started", "running"],
      ["finished", "passed"],
    ]);
    expect(events.map((e) => e.id)).toEqual(events.map((e) => e.data.id));
    expect([...events.map((e) => e.id)].sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(events.map((e) => e.id));
  });

  it("resumes with Last-Event-ID: exactly the events missed, then live ones, none repeated", async () => {
    const runId = await submit();
    const first = await stream(`/api/runs/${runId}/stream`);
    const claimed = await claimRun(t.db.db, p.id, runId, "w-stream");
    const started = await first.waitFor((e) => e.data?.type === "started");
    first.close();
    // While the client is away: a cancel is requested (an event), then the run finishes.
    await requestRunCancel(t.db.db, p.id, runId);
    const again = await stream(`/api/runs/${runId}/stream`, { "last-event-id": String(started.id) });
    await again.waitFor((e) => e.data?.type === "cancel_requested");
    await finishRun(t.db.db, p.id, runId, claimed?.attempt ?? 1, { ...outcome, status: "cancelled" }, "w-stream");
    await again.ended;
    expect(again.events.some((e) => e.event === "snapshot")).toBe(false);
    const seen = [
      ...first.events.filter((e) => e.event === "run-event"),
      ...again.events.filter((e) => e.event === "run-event"),
    ];
    expect(seen.map((e) => e.data.type)).toEqual(["queued", "started", "cancel_requested", "finished"]);
    expect(new Set(seen.map((e) => e.id)).size).toBe(4);
    expect(again.events.at(-1)).toMatchObject({ event: "end", data: { status: "cancelled" } });

    // A finished run's stream, resumed after its last event, ends at once.
    const late = await stream(`/api/runs/${runId}/stream`, { "last-event-id": String(seen.at(-1)?.id) });
    await late.ended;
    expect(late.events.map((e) => e.event)).toEqual(["end"]);
  });

  it("another project's run is a 404, a fourth stream of one key a 429; idle streams get heartbeats", async () => {
    const runId = await submit();
    const foreign = await fetch(`${base}/api/runs/${runId}/stream`, { headers: auth(other.apiKey) });
    expect(foreign.status).toBe(404);
    await foreign.body?.cancel();
    const clients = [await stream("/api/stream"), await stream("/api/stream"), await stream("/api/stream")];
    expect(clients.map((c) => c.status)).toEqual([200, 200, 200]);
    // An idle stream gets heartbeat comments.
    for (let i = 0; i < 40 && !clients[1]?.comments.includes("ping"); i++) await new Promise((r) => setTimeout(r, 50));
    expect(clients[1]?.comments).toContain("ping");
    const fourth = await fetch(`${base}/api/stream`, { headers: auth(p.apiKey) });
    expect(fourth.status).toBe(429);
    expect(((await fourth.json()) as { error: { message: string } }).error.message).toContain("STREAM_MAX_PER_KEY");
    clients[0]?.close();
    await clients[0]?.ended;
    // The slot is free again once the server noticed the close.
    let status = 429;
    for (let i = 0; i < 20 && status === 429; i++) {
      const retry = await fetch(`${base}/api/stream`, { headers: auth(p.apiKey) });
      status = retry.status;
      await retry.body?.cancel();
      if (status === 429) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(status).toBe(200);
  });
});

describe("GET /api/stream", () => {
  it("follows the project's runs, filtered by status, and resumes with Last-Event-ID", async () => {
    const all = await stream("/api/stream");
    const finished = await stream("/api/stream?status=passed,failed");
    await all.waitFor((e) => e.event === "snapshot");
    const runId = await submit();
    const claimed = await claimRun(t.db.db, p.id, runId, "w-stream");
    await finishRun(t.db.db, p.id, runId, claimed?.attempt ?? 1, outcome, "w-stream");
    await all.waitFor((e) => e.data?.runId === runId && e.data?.type === "finished");
    const onlyFinished = await finished.waitFor((e) => e.data?.runId === runId);
    expect(onlyFinished.data).toMatchObject({ type: "finished", status: "passed" });
    expect(finished.events.filter((e) => e.event === "run-event").every((e) => e.data.status === "passed")).toBe(true);
    const mine = all.events.filter((e) => e.data?.runId === runId);
    expect(mine.map((e) => e.data.type)).toEqual(["queued", "started", "finished"]);

    const resumed = await stream("/api/stream", { "last-event-id": String(mine[0]?.id) });
    const last = await resumed.waitFor((e) => e.data?.runId === runId && e.data?.type === "finished");
    expect(resumed.events.filter((e) => e.data?.runId === runId).map((e) => e.data.type)).toEqual([
      "started",
      "finished",
    ]);
    expect(last.id).toBe(mine[2]?.id);

    // Another project's stream sees none of it.
    const foreign = await stream("/api/stream", { "last-event-id": "0" }, other.apiKey);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(foreign.events.filter((e) => e.event === "run-event")).toEqual([]);

    const bad = await fetch(`${base}/api/stream?status=done`, { headers: auth(p.apiKey) });
    expect(bad.status).toBe(400);
    expect(
      ((await bad.json()) as { error: { details: { fields: { field: string }[] } } }).error.details.fields[0]?.field,
    ).toBe("querystring.status");
  });
});

describe("EventFeed", () => {
  it("never skips an id that commits after a higher one, and gives up on one that never comes", async () => {
    const feed = new EventFeed({
      db: t.db,
      logger: createLogger({ level: "silent" }),
      pollMs: 10_000,
      gapWaitMs: 1000,
    });
    const got: number[] = [];
    const unsubscribe = await feed.subscribe((event) => got.push(event.id));
    try {
      const runId = await submit();
      // Take two ids, and commit the higher first: the lower one commits later.
      const [low, high] = await t.db.query<{ id: string }>(
        "select nextval(pg_get_serial_sequence('run_events', 'id')) as id union all select nextval(pg_get_serial_sequence('run_events', 'id'))",
      );
      const insert = (id: string) =>
        t.db.query(
          "insert into run_events (id, run_id, project_id, type, attempt, data) values ($1, $2, $3, 'stalled', 0, '{}')",
          [id, runId, p.id],
        );
      await insert(high?.id ?? "");
      const start = Date.now();
      await feed.poll(start);
      expect(got.at(-1)).toBe(Number(high?.id));
      await insert(low?.id ?? "");
      await feed.poll(start + 500);
      expect(got.at(-1)).toBe(Number(low?.id));
      // An id taken and never used (a rolled-back insert) is passed after gapWaitMs.
      const [lost] = await t.db.query<{ id: string }>(
        "select nextval(pg_get_serial_sequence('run_events', 'id')) as id",
      );
      const [after] = await t.db.query<{ id: string }>(
        "select nextval(pg_get_serial_sequence('run_events', 'id')) as id",
      );
      await insert(after?.id ?? "");
      await feed.poll(start + 600);
      await feed.poll(start + 5000);
      const [next] = await t.db.query<{ id: string }>(
        "select nextval(pg_get_serial_sequence('run_events', 'id')) as id",
      );
      await insert(next?.id ?? "");
      expect(await feed.poll(start + 5100)).toBe(1);
      expect(got.slice(-2)).toEqual([Number(after?.id), Number(next?.id)]);
      expect(got).not.toContain(Number(lost?.id));
    } finally {
      unsubscribe();
      feed.stop();
    }
  });
});
