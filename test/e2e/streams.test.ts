/**
 * Live events across API replicas, with real processes: a worker runs a slow recording submitted
 * to API A while a client follows the run's stream on API B (the worker talks to neither: events
 * travel through Postgres). The client is cut off mid-run and reconnects with Last-Event-ID: it
 * has every event of the run exactly once, in order, and the stream ends after `finished`.
 */
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { BINS, freePort, type Proc, startProcess } from "@conveyor/testing/processes";
import { slowRecording } from "@conveyor/testing/recordings";
import { openSse } from "@conveyor/testing/sse";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
let site: FixtureSite;
let apiB: Proc;
let apiBUrl: string;

beforeAll(async () => {
  site = await startFixtureSite();
  stack = await createStack("streams");
  await stack.startApi();
  const port = await freePort();
  apiB = startProcess("api-b", BINS.api, { ...stack.env, PORT: String(port) });
  await apiB.waitForOutput(/API listening/, 60_000);
  apiBUrl = `http://127.0.0.1:${port}`;
  await stack.startWorker("w-streams");
  await stack.createProject("streams");
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await site?.close();
});

describe("a run's stream on another API replica", () => {
  it("has every event exactly once, in order, across a reconnect with Last-Event-ID", async () => {
    const submitted = await stack.request("POST", "/api/runs", { recording: slowRecording(site.url, 4000) });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
    const runId = submitted.body.id as string;
    const headers = { authorization: `Bearer ${stack.apiKey}` };

    const first = await openSse(`${apiBUrl}/api/runs/${runId}/stream`, headers);
    expect(first.status).toBe(200);
    await first.waitFor((e) => e.event === "snapshot");
    const started = await first.waitFor((e) => e.data?.type === "started", 60_000);
    first.close();
    await first.ended;

    const again = await openSse(`${apiBUrl}/api/runs/${runId}/stream`, {
      ...headers,
      "last-event-id": String(started.id),
    });
    const end = await again.waitFor((e) => e.event === "end", 60_000);
    expect(end.data).toEqual({ runId, status: "passed" });
    await again.ended;

    const seen = [...first.events, ...again.events].filter((e) => e.event === "run-event");
    expect(seen.map((e) => e.data.type)).toEqual(["queued", "started", "finished"]);
    const ids = seen.map((e) => e.id ?? 0);
    expect([...ids].sort((a, b) => a - b)).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    // What the API says of the run's log is what the streams delivered.
    const log = await stack.request("GET", `/api/runs/${runId}/events`);
    expect(log.body.items.map((e: { id: number }) => e.id)).toEqual(ids);
  });
});
