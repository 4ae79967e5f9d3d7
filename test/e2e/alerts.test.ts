/**
 * Alerts end to end with real processes (API, a worker with Chromium, the fixture site, a local
 * webhook receiver): a scheduled recording that fails three times, then passes, under a rule with
 * `afterConsecutiveFailures: 2`, alerts exactly once after the second failure and once on
 * recovery — each a signed webhook (verified with the `standardwebhooks` package) with its own
 * id. A quarantined recording and one inside a maintenance window fail just as often and alert
 * no one.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { waitFor } from "@conveyor/testing/processes";
import { flakyRecording } from "@conveyor/testing/recordings";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

interface Received {
  id: string;
  body: string;
  headers: IncomingMessage["headers"];
}

let stack: Stack;
let site: FixtureSite;
let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];

beforeAll(async () => {
  site = await startFixtureSite();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({
        id: String(req.headers["webhook-id"] ?? ""),
        body: Buffer.concat(chunks).toString(),
        headers: req.headers,
      });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  stack = await createStack("alerts");
  await stack.startApi({ SCHEDULE_MIN_INTERVAL_S: "1" });
  await stack.startWorker("w-alerts", { WORKER_CONCURRENCY: "2", NOTIFY_RETRY_SCHEDULE_MS: "0,500,500" });
  await stack.createProject("alerts");
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await site?.close();
  await new Promise<void>((resolve) => (receiver ? receiver.close(() => resolve()) : resolve()));
});

async function ok(method: string, path: string, body?: unknown, status = [200, 201, 202]) {
  const response = await stack.request(method, path, body);
  expect(status, `${method} ${path}: ${response.status} ${JSON.stringify(response.body)}`).toContain(response.status);
  return response.body;
}

/** A stored recording that asserts `#ok` on `/flaky?key=…&fails=3`: fails three runs, then passes. */
async function flakyRecordingOf(key: string): Promise<string> {
  const recording = await ok("POST", "/api/recordings", flakyRecording(site.url, key, 3));
  return recording.id as string;
}

async function schedule(recordingId: string, name: string): Promise<string> {
  const created = await ok("POST", "/api/schedules", {
    name,
    recordingId,
    everySeconds: 2,
    overlap: "skip",
    runOverrides: { timeoutMs: 20_000 },
  });
  return created.id as string;
}

/** The schedule's finished runs, newest first (from its fire log). */
async function finishedRuns(scheduleId: string): Promise<{ id: string; status: string }[]> {
  const fires = await ok("GET", `/api/schedules/${scheduleId}/fires?limit=100`);
  const runIds = (fires.items as { runId: string | null }[]).flatMap((fire) => (fire.runId ? [fire.runId] : []));
  const runs = await Promise.all(runIds.map((id) => ok("GET", `/api/runs/${id}`)));
  return (runs as { id: string; status: string }[]).filter((run) =>
    ["passed", "failed", "errored"].includes(run.status),
  );
}

describe("alerts of a failing schedule", () => {
  it("once after the second failure and once on recovery; nothing for a quarantined or silenced one", async () => {
    const created = await ok("POST", "/api/channels", { type: "webhook", name: "ops", url: receiverUrl });
    const channel = created.channel as { id: string };
    const secret = created.secret as string;
    expect(secret).toMatch(/^whsec_/);

    const alerted = await flakyRecordingOf(`alerted-${Date.now()}`);
    const quarantined = await flakyRecordingOf(`quarantined-${Date.now()}`);
    const silenced = await flakyRecordingOf(`silenced-${Date.now()}`);
    await ok("POST", `/api/recordings/${quarantined}/quarantine`, {
      reason: "known broken",
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    await ok("POST", "/api/maintenance-windows", {
      scope: "recording",
      scopeValue: silenced,
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      mode: "silence",
      reason: "migration",
    });
    await ok("POST", "/api/alert-rules", {
      name: "scheduled flows",
      events: ["run.failed", "run.recovered"],
      afterConsecutiveFailures: 2,
      channelIds: [channel.id],
    });

    const schedules = [
      await schedule(alerted, "alerted"),
      await schedule(quarantined, "quarantined"),
      await schedule(silenced, "silenced"),
    ];
    // Five finished runs each: three failures, then two passes.
    await waitFor(
      async () => {
        const counts = await Promise.all(schedules.map(async (id) => (await finishedRuns(id)).length));
        return counts.every((count) => count >= 5) ? counts : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500, what: "five finished runs of each schedule" },
    );
    for (const id of schedules) await ok("POST", `/api/schedules/${id}/pause`, {});
    const alertedRuns = (await finishedRuns(schedules[0] ?? "")).reverse();
    expect(alertedRuns.slice(0, 5).map((run) => run.status)).toEqual([
      "failed",
      "failed",
      "failed",
      "passed",
      "passed",
    ]);

    // Deliveries are sent by the workers after the commit: give the last one time to arrive.
    await waitFor(async () => (received.length >= 2 ? true : undefined), {
      timeoutMs: 30_000,
      what: "two webhooks",
    });
    await sleep(3000);
    const webhook = new Webhook(secret);
    const events = received.map((delivery) => {
      const verified = webhook.verify(delivery.body, {
        "webhook-id": String(delivery.headers["webhook-id"]),
        "webhook-timestamp": String(delivery.headers["webhook-timestamp"]),
        "webhook-signature": String(delivery.headers["webhook-signature"]),
      }) as { type: string; timestamp: string; data: { run: { id: string }; recording: { id: string } } };
      return {
        id: delivery.id,
        at: verified.timestamp,
        type: verified.type,
        runId: verified.data.run.id,
        recordingId: verified.data.recording.id,
      };
    });
    // Deliveries may arrive in any order (each is retried on its own): receivers order by the
    // notification's timestamp.
    events.sort((a, b) => a.at.localeCompare(b.at));
    expect(events.map((event) => [event.type, event.recordingId, event.runId])).toEqual([
      ["run.failed", alerted, alertedRuns[1]?.id],
      ["run.recovered", alerted, alertedRuns[3]?.id],
    ]);
    expect(new Set(events.map((event) => event.id)).size).toBe(2);
  });
});
