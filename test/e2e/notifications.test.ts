/**
 * Notification delivery with real processes (an API and worker processes, a local receiver):
 * - a webhook answered 500, 500 then 200 is delivered on the third attempt with a signature the
 *   `standardwebhooks` package verifies, and GET /api/channels/:id/deliveries shows every attempt;
 * - a notification written while no worker runs (as when the API dies between its commit and the
 *   enqueue: no job exists) is found by the outbox sweep of a worker started later and arrives once;
 * - a worker SIGKILLed during an attempt: another takes the delivery over after the attempt's
 *   lease, the receiver sees the same webhook-id again and accepts it exactly once;
 * - no process ever prints a channel URL's path or a webhook secret.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { enqueueNotification } from "@conveyor/db";
import { type Proc, waitFor } from "@conveyor/testing/processes";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const WORKER_ENV = {
  // Attempts 300 ms apart; a 2 s attempt budget, so a dead worker's attempt is taken over after 9 s.
  NOTIFY_RETRY_SCHEDULE_MS: "0,300,300,300",
  NOTIFY_TIMEOUT_MS: "2000",
  PUBLIC_URL: "https://conveyor.example.com",
};
const PATH_SECRET = "/hooks/T0001/B0001/path-that-is-a-credential";

interface Received {
  id: string;
  body: string;
  headers: Record<string, string>;
  /** What it was answered; null: never (the sender died waiting). */
  status: number | null;
}

let stack: Stack;
let server: http.Server;
let receiverUrl: string;
const received: Received[] = [];
/** What the receiver answers the n-th request (1-based) with; "hang": nothing, ever. */
let answer: (n: number) => number | "hang" = () => 200;
let channelId: string;
let secret: string;
const workers: Proc[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    req.on("end", () => {
      const entry: Received = {
        id: String(req.headers["webhook-id"]),
        body,
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        status: null,
      };
      received.push(entry);
      const status = answer(received.length);
      if (status === "hang") return;
      entry.status = status;
      res.writeHead(status).end(`answered ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}${PATH_SECRET}`;
  stack = await createStack("notifications");
  await stack.startApi();
  await stack.createProject("notifications");
  const created = await stack.request("POST", "/api/channels", { type: "webhook", name: "hook", url: receiverUrl });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  channelId = created.body.channel.id;
  secret = created.body.secret;
});

afterAll(async () => {
  await stack?.stop();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
});

function verify(request: Received): unknown {
  return new Webhook(secret).verify(request.body, {
    "webhook-id": request.headers["webhook-id"] ?? "",
    "webhook-timestamp": request.headers["webhook-timestamp"] ?? "",
    "webhook-signature": request.headers["webhook-signature"] ?? "",
  });
}

async function deliveryView(id: string) {
  const page = await stack.request("GET", `/api/channels/${channelId}/deliveries`);
  return (page.body.items as { id: string; status: string }[]).find((item) => item.id === id) as
    | {
        id: string;
        status: string;
        attempts: number;
        attemptLog: { responseStatus: number | null; error: string | null }[];
      }
    | undefined;
}

describe("notification delivery with real processes", () => {
  it("retries a receiver answering 500 twice and delivers on the third attempt, signed; the API shows each attempt", async () => {
    workers.push(await stack.startWorker("w-notify-1", WORKER_ENV));
    answer = (n) => (n <= 2 ? 500 : 200);
    const tested = await stack.request("POST", `/api/channels/${channelId}/test`);
    expect(tested.status).toBe(202);
    const id = tested.body.id as string;
    const view = await waitFor(
      async () => {
        const delivery = await deliveryView(id);
        return delivery?.status === "delivered" ? delivery : undefined;
      },
      { timeoutMs: 30_000, what: "the test delivery" },
    );
    expect(view.attempts).toBe(3);
    expect(view.attemptLog.map((a) => [a.responseStatus, a.error])).toEqual([
      [500, "HTTP 500"],
      [500, "HTTP 500"],
      [200, null],
    ]);
    expect(received.map((r) => [r.id, r.status])).toEqual([
      [id, 500],
      [id, 500],
      [id, 200],
    ]);
    for (const request of received)
      expect(verify(request)).toMatchObject({ type: "test", data: { channel: { id: channelId } } });
  });

  it("delivers once a notification whose enqueue was lost, when a worker comes back", async () => {
    workers[0]?.kill("SIGKILL");
    await workers[0]?.exited;
    received.length = 0;
    answer = () => 200;
    const [row] = await stack.db.query<{ project_id: string }>("select project_id from channels where id = $1", [
      channelId,
    ]);
    const projectId = row?.project_id;
    if (!projectId) throw new Error("no project");
    // Committed with no job anywhere: only the outbox sweep can find it.
    const { deliveries } = await enqueueNotification(stack.db.db, {
      projectId,
      type: "run.failed",
      channelIds: [channelId],
      payload: { run: { id: "run_0000000000abcdefghjkmnpqrs", status: "failed" }, recording: { name: "Checkout" } },
    });
    const id = deliveries[0]?.id ?? "";
    workers.push(await stack.startWorker("w-notify-2", WORKER_ENV));
    await waitFor(async () => ((await deliveryView(id))?.status === "delivered" ? true : undefined), {
      timeoutMs: 30_000,
      what: "the swept delivery",
    });
    expect(received.map((r) => [r.id, r.status])).toEqual([[id, 200]]);
    expect(verify(received[0] as Received)).toMatchObject({
      type: "run.failed",
      data: { recording: { name: "Checkout" } },
    });
  });

  it("takes a delivery over from a worker killed during the attempt: the receiver accepts it exactly once", async () => {
    received.length = 0;
    answer = (n) => (n === 1 ? "hang" : 200);
    const tested = await stack.request("POST", `/api/channels/${channelId}/test`);
    const id = tested.body.id as string;
    await waitFor(async () => (received.length === 1 ? true : undefined), {
      timeoutMs: 30_000,
      what: "the first attempt",
    });
    // The attempt is under way (its request arrived, unanswered): kill its worker now.
    workers[1]?.kill("SIGKILL");
    await workers[1]?.exited;
    workers.push(await stack.startWorker("w-notify-3", WORKER_ENV));
    const view = await waitFor(
      async () => {
        const delivery = await deliveryView(id);
        return delivery?.status === "delivered" ? delivery : undefined;
      },
      { timeoutMs: 60_000, what: "the delivery to be taken over" },
    );
    expect(received.map((r) => r.id)).toEqual([id, id]);
    expect(received.filter((r) => r.status !== null && r.status >= 200 && r.status < 300)).toHaveLength(1);
    expect(view.attempts).toBe(2);
    expect(view.attemptLog.map((a) => [a.responseStatus, a.error])).toEqual([
      [null, "no outcome recorded: the worker stopped during the attempt"],
      [200, null],
    ]);
  });

  it("never prints a channel URL's path or a secret", () => {
    const output = [stack.api, ...workers].map((proc) => proc?.output() ?? "").join("\n");
    expect(output).toContain("notification delivered");
    expect(output).not.toContain(PATH_SECRET);
    expect(output).not.toContain("path-that-is-a-credential");
    expect(output).not.toContain(secret.slice("whsec_".length));
  });
});
