/**
 * `priority` is honoured by the queue: a high-priority run submitted behind a backlog starts
 * before the backlog.
 */

import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { slowRecording } from "@conveyor/testing/recordings";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
let site: FixtureSite;

beforeAll(async () => {
  site = await startFixtureSite();
  stack = await createStack("priority");
  await Promise.all([stack.startApi(), stack.startWorker("w-priority", { WORKER_CONCURRENCY: "1" })]);
  await stack.createProject("priority");
});

afterAll(async () => {
  await stack?.stop();
  await site?.close();
});

describe("priorities", () => {
  it("starts an urgent run before the backlog submitted ahead of it", async () => {
    const submit = async (priority: number, ms: number) => {
      const response = await stack.request("POST", "/api/runs", { recording: slowRecording(site.url, ms), priority });
      expect(response.status).toBe(202);
      return response.body.id as string;
    };
    // Occupy the only slot, then build a backlog behind it.
    const blocker = await submit(5, 1500);
    await stack.waitForRun(blocker, ["running"]);
    const backlog = [];
    for (let i = 0; i < 4; i++) backlog.push(await submit(5, 100));
    const urgent = await submit(1, 100);

    const all = [blocker, ...backlog, urgent];
    for (const id of all)
      expect((await stack.waitForRun(id, ["passed", "failed", "errored", "cancelled"])).status).toBe("passed");
    const started = await stack.db.query<{ run_id: string }>(
      `select run_id from run_events where type = 'started' and run_id = any($1) order by id`,
      [all],
    );
    const order = started.map((e) => e.run_id);
    expect(order[0]).toBe(blocker);
    expect(order[1]).toBe(urgent);
    // The backlog keeps its own order (FIFO within a priority).
    expect(order.slice(2)).toEqual(backlog);
  });
});
