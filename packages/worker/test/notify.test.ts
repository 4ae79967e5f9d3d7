/**
 * The notifications subsystem on real Postgres, Redis, HTTP receivers and an SMTP server (two
 * notifiers: two workers): a receiver answering 500 twice then 200 gets the delivery on the third
 * attempt with a signature the `standardwebhooks` package verifies, each attempt logged; 410
 * disables the channel and says so on the project's other channel; 429 waits what Retry-After
 * says; a denied address is never connected to; after a rotation both secrets sign; an email
 * arrives with the run link; many deliveries through two workers arrive once each; no URL or
 * secret is ever logged.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger, parseSecretsKey, seal } from "@conveyor/core";
import {
  type Channel,
  createProject,
  enqueueNotification,
  getChannel,
  getDelivery,
  insertChannel,
  rotateChannelSecret,
} from "@conveyor/db";
import { createTestDatabase, type TestDatabase } from "@conveyor/db/testing";
import { startCanary, testPolicy } from "@conveyor/testing/egress";
import { Redis } from "ioredis";
import nodemailer from "nodemailer";
import { SMTPServer } from "smtp-server";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Notifier } from "../src/notify/notifier.ts";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const KEY_TEXT = "5f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0";
const KEY = parseSecretsKey(KEY_TEXT);
const prefix = `cvt-notify-${randomBytes(4).toString("hex")}`;
const SCHEDULE = [0, 300, 300, 300];

let db: TestDatabase;
let redis: Redis;
let projectId: string;
const notifiers: Notifier[] = [];
const logLines: string[] = [];
/** Secrets and URL paths that must never reach a log line. */
const neverLogged: string[] = [];

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
}

interface Receiver {
  url: string;
  received: Received[];
  close(): Promise<void>;
}

/** A local HTTP receiver: `answer(n)` gives the status (and headers) of the n-th request (1-based). */
async function startReceiver(
  answer: (n: number) => { status: number; headers?: Record<string, string> },
): Promise<Receiver> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString("utf8");
    });
    req.on("end", () => {
      const { status, headers } = answer(received.length + 1);
      received.push({ headers: req.headers, body, status });
      res.writeHead(status, headers ?? {});
      res.end(`answer ${status}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const path = `/hooks/${randomBytes(8).toString("hex")}`;
  neverLogged.push(path);
  return {
    url: `http://127.0.0.1:${port}${path}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function secret(): string {
  const value = `whsec_${randomBytes(32).toString("base64")}`;
  neverLogged.push(value.slice(6));
  return value;
}

async function channel(name: string, type: Channel["type"], target: { url?: string; email?: string[] }, key?: string) {
  return insertChannel(db.db, projectId, {
    name,
    type,
    targetSealed: seal(JSON.stringify(target), KEY),
    targetHint: "test",
    secretSealed: key === undefined ? null : seal(key, KEY),
  });
}

function startNotifier(extra: Partial<ConstructorParameters<typeof Notifier>[0]> = {}): Notifier {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logLines.push(chunk.toString("utf8"));
      done();
    },
  });
  const notifier = new Notifier({
    db,
    connection: redis,
    prefix,
    logger: createLogger({ level: "debug", destination: sink }),
    // Receivers listen on loopback: allowed as an operator would open a network.
    egressPolicy: testPolicy("127.0.0.1"),
    secretsKey: KEY,
    retryScheduleMs: SCHEDULE,
    timeoutMs: 2000,
    publicUrl: "https://conveyor.example.com",
    ...extra,
  });
  notifiers.push(notifier);
  return notifier;
}

async function notify(
  channelIds: string[],
  payload: Record<string, unknown> = {},
  type: "test" | "run.failed" = "test",
) {
  const { deliveries, notification } = await enqueueNotification(db.db, { projectId, type, channelIds, payload });
  return { deliveries, notification };
}

async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

beforeAll(async () => {
  db = await createTestDatabase("notify");
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  projectId = (await createProject(db.db, { name: "notify" })).project.id;
  const a = startNotifier();
  const b = startNotifier();
  await Promise.all([a.start(), b.start()]);
});

afterAll(async () => {
  for (const notifier of notifiers) await notifier.stop();
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== "0");
  redis?.disconnect();
  await db?.drop();
});

describe("the notifier", () => {
  it("retries 500, 500 and delivers on the third attempt, signed, every attempt logged", async () => {
    const receiver = await startReceiver((n) => ({ status: n <= 2 ? 500 : 200 }));
    const key = secret();
    const target = await channel("retried", "webhook", { url: receiver.url }, key);
    const { deliveries, notification } = await notify([target.id], { message: "hello" });
    const delivery = deliveries[0];
    if (!delivery) throw new Error("no delivery");
    // Nothing but the sweep enqueues here: as after an API that died after its commit.
    await notifiers[0]?.sweep();
    const done = await waitFor(async () => {
      const row = await getDelivery(db.db, projectId, delivery.id);
      return row?.status === "delivered" ? row : undefined;
    }, "the delivery");
    expect(receiver.received.map((r) => r.status)).toEqual([500, 500, 200]);
    expect(done).toMatchObject({ attempts: 3, responseStatus: 200, responseBody: "answer 200", lastError: null });
    expect(done.attemptLog.map((a) => [a.attempt, a.responseStatus, a.error])).toEqual([
      [1, 500, "HTTP 500"],
      [2, 500, "HTTP 500"],
      [3, 200, null],
    ]);
    expect(done.attemptLog[1]?.at.getTime()).toBeGreaterThanOrEqual((done.attemptLog[0]?.at.getTime() ?? 0) + 300);
    for (const request of receiver.received) {
      expect(request.headers["webhook-id"]).toBe(delivery.id);
      const verified = new Webhook(key).verify(request.body, {
        "webhook-id": String(request.headers["webhook-id"]),
        "webhook-timestamp": String(request.headers["webhook-timestamp"]),
        "webhook-signature": String(request.headers["webhook-signature"]),
      });
      expect(verified).toEqual({
        type: "test",
        timestamp: notification.createdAt.toISOString(),
        data: { message: "hello" },
      });
    }
    expect(() =>
      new Webhook(secret()).verify(receiver.received[2]?.body ?? "", {
        "webhook-id": delivery.id,
        "webhook-timestamp": String(receiver.received[2]?.headers["webhook-timestamp"]),
        "webhook-signature": String(receiver.received[2]?.headers["webhook-signature"]),
      }),
    ).toThrow();
    expect((await getChannel(db.db, projectId, target.id))?.failingSince).toBeNull();
    await receiver.close();
  });

  it("disables a channel answered 410, and says so on the project's other channels", async () => {
    const gone = await startReceiver(() => ({ status: 410 }));
    const witness = await startReceiver(() => ({ status: 204 }));
    const goneChannel = await channel("gone", "webhook", { url: gone.url }, secret());
    await channel("witness", "webhook", { url: witness.url }, secret());
    const { deliveries } = await notify([goneChannel.id]);
    for (const delivery of deliveries) await notifiers[0]?.wake(delivery);
    const disabled = await waitFor(async () => {
      const row = await getChannel(db.db, projectId, goneChannel.id);
      return row && !row.enabled ? row : undefined;
    }, "the channel to be disabled");
    expect(disabled.disabledReason).toMatch(/410 Gone/);
    expect(gone.received).toHaveLength(1);
    expect(await getDelivery(db.db, projectId, deliveries[0]?.id ?? "")).toMatchObject({
      status: "failed",
      attempts: 1,
    });
    const announced = await waitFor(
      () => witness.received.find((r) => JSON.parse(r.body).type === "channel.disabled"),
      "the announcement",
    );
    expect(JSON.parse(announced.body).data).toMatchObject({ channel: { id: goneChannel.id, name: "gone" } });
    // A disabled channel gets nothing more.
    const later = await notify([goneChannel.id]);
    expect(later.deliveries).toEqual([]);
    await gone.close();
    await witness.close();
  });

  it("waits what Retry-After says on 429 before the next attempt", async () => {
    const limited = await startReceiver((n) =>
      n === 1 ? { status: 429, headers: { "retry-after": "2" } } : { status: 200 },
    );
    const target = await channel("limited", "webhook", { url: limited.url }, secret());
    const { deliveries } = await notify([target.id]);
    const delivery = deliveries[0];
    if (!delivery) throw new Error("no delivery");
    await notifiers[1]?.wake(delivery);
    const done = await waitFor(async () => {
      const row = await getDelivery(db.db, projectId, delivery.id);
      return row?.status === "delivered" ? row : undefined;
    }, "the delivery");
    const [first, second] = done.attemptLog;
    expect(first).toMatchObject({ responseStatus: 429, error: "HTTP 429 (Retry-After 2)" });
    // The schedule alone would have waited 300 ms.
    expect((second?.at.getTime() ?? 0) - (first?.at.getTime() ?? 0)).toBeGreaterThanOrEqual(2000);
    await limited.close();
  });

  it("refuses a target the egress policy denies: nothing is connected to, the delivery fails saying why", async () => {
    const canary = await startCanary();
    // Under the default policy (no loopback allowed); the API would refuse this URL, so as if the
    // policy changed after the channel was made.
    const strict = startNotifier({ egressPolicy: testPolicy("") });
    const target = await channel("denied", "webhook", { url: `http://localhost:${canary.port}/hook` }, secret());
    const { deliveries } = await notify([target.id]);
    const delivery = deliveries[0];
    if (!delivery) throw new Error("no delivery");
    expect(await strict.deliver(delivery.id, 1)).toBe("failed");
    const row = await getDelivery(db.db, projectId, delivery.id);
    expect(row).toMatchObject({ status: "failed", attempts: 1, responseStatus: null });
    expect(row?.lastError).toMatch(
      /^blocked by the egress policy: http:\/\/localhost:\d+ \(loopback \(127\.0\.0\.0\/8\) address\)$/,
    );
    expect(canary.hits).toBe(0);
    await strict.stop();
    await canary.close();
  });

  it("signs with both secrets during a rotation's overlap, with the new one alone after it", async () => {
    const receiver = await startReceiver(() => ({ status: 200 }));
    const oldKey = secret();
    const newKey = secret();
    const target = await channel("rotated", "webhook", { url: receiver.url }, oldKey);
    await rotateChannelSecret(db.db, projectId, target.id, seal(newKey, KEY), new Date(Date.now() + 60_000));
    const first = await notify([target.id]);
    for (const delivery of first.deliveries) await notifiers[0]?.wake(delivery);
    await waitFor(() => receiver.received.length === 1 || undefined, "the first delivery");
    const headersOf = (r: Received) => ({
      "webhook-id": String(r.headers["webhook-id"]),
      "webhook-timestamp": String(r.headers["webhook-timestamp"]),
      "webhook-signature": String(r.headers["webhook-signature"]),
    });
    const during = receiver.received[0] as Received;
    expect(headersOf(during)["webhook-signature"].split(" ")).toHaveLength(2);
    expect(() => new Webhook(oldKey).verify(during.body, headersOf(during))).not.toThrow();
    expect(() => new Webhook(newKey).verify(during.body, headersOf(during))).not.toThrow();

    await db.query("update channels set previous_secret_expires_at = now() - interval '1 second' where id = $1", [
      target.id,
    ]);
    const second = await notify([target.id]);
    for (const delivery of second.deliveries) await notifiers[0]?.wake(delivery);
    await waitFor(() => receiver.received.length === 2 || undefined, "the second delivery");
    const after = receiver.received[1] as Received;
    expect(headersOf(after)["webhook-signature"].split(" ")).toHaveLength(1);
    expect(() => new Webhook(newKey).verify(after.body, headersOf(after))).not.toThrow();
    expect(() => new Webhook(oldKey).verify(after.body, headersOf(after))).toThrow();
    await receiver.close();
  });

  it("sends a readable Slack message: recording, failing action, error, links to the run and screenshot", async () => {
    const slack = await startReceiver(() => ({ status: 200 }));
    const target = await channel("slack", "slack", { url: slack.url });
    const { deliveries } = await notify(
      [target.id],
      {
        run: { id: "run_0000000000abcdefghjkmnpqrs", status: "failed" },
        recording: { id: "rec_1", name: "Checkout" },
        failure: { action: { index: 3, type: "click", selector: "#pay" }, error: "Element not found: #pay" },
        screenshotUrl: "/api/runs/run_0000000000abcdefghjkmnpqrs/artifacts/1/action-3-failure.png",
      },
      "run.failed",
    );
    for (const delivery of deliveries) await notifiers[1]?.wake(delivery);
    await waitFor(() => slack.received.length === 1 || undefined, "the Slack message");
    const message = JSON.parse(slack.received[0]?.body ?? "{}");
    expect(message.text).toBe("Run failed: Checkout");
    const all = JSON.stringify(message.blocks);
    expect(all).toContain("Failing action: #3 click #pay");
    expect(all).toContain("Error: Element not found: #pay");
    expect(all).toContain("<https://conveyor.example.com/api/runs/run_0000000000abcdefghjkmnpqrs|Run>");
    expect(all).toContain(
      "<https://conveyor.example.com/api/runs/run_0000000000abcdefghjkmnpqrs/artifacts/1/action-3-failure.png|Screenshot>",
    );
    await slack.close();
  });

  it("emails through the SMTP server, with the run link", async () => {
    const mails: { from: string; to: string[]; data: string }[] = [];
    const smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData(stream, session, callback) {
        let data = "";
        stream.on("data", (chunk: Buffer) => {
          data += chunk.toString("utf8");
        });
        stream.on("end", () => {
          mails.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
            to: session.envelope.rcptTo.map((r) => r.address),
            data,
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", resolve));
    const port = (smtp.server.address() as AddressInfo).port;
    const mailer = startNotifier({
      mail: {
        transport: nodemailer.createTransport({ host: "127.0.0.1", port, secure: false, ignoreTLS: true }),
        from: "Conveyor <alerts@example.com>",
      },
    });
    const target = await channel("mail", "email", { email: ["oncall@example.com", "lead@example.org"] });
    const { deliveries } = await notify(
      [target.id],
      { run: { id: "run_0000000000abcdefghjkmnpqrs", status: "failed" }, recording: { name: "Login" } },
      "run.failed",
    );
    const delivery = deliveries[0];
    if (!delivery) throw new Error("no delivery");
    expect(await mailer.deliver(delivery.id, 1)).toBe("delivered");
    expect(mails).toHaveLength(1);
    expect(mails[0]?.to).toEqual(["oncall@example.com", "lead@example.org"]);
    expect(mails[0]?.from).toBe("alerts@example.com");
    expect(mails[0]?.data).toContain("Subject: [Conveyor] Run failed: Login");
    expect(mails[0]?.data).toContain("Run: https://conveyor.example.com/api/runs/run_0000000000abcdefghjkmnpqrs");
    expect(await getDelivery(db.db, projectId, delivery.id)).toMatchObject({ status: "delivered", attempts: 1 });
    await mailer.stop();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  });

  it("delivers each of many notifications once through two workers, jobs and sweeps racing", async () => {
    const receiver = await startReceiver(() => ({ status: 200 }));
    const target = await channel("busy", "webhook", { url: receiver.url }, secret());
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const { deliveries } = await notify([target.id], { i });
      for (const delivery of deliveries) {
        ids.push(delivery.id);
        await Promise.all([notifiers[0]?.wake(delivery), notifiers[1]?.wake(delivery)]);
      }
      if (i % 10 === 0) await Promise.all([notifiers[0]?.sweep(), notifiers[1]?.sweep()]);
    }
    await waitFor(() => receiver.received.length >= ids.length || undefined, "every delivery");
    await Promise.all([notifiers[0]?.sweep(), notifiers[1]?.sweep()]);
    await sleep(500);
    const seen = receiver.received.map((r) => String(r.headers["webhook-id"]));
    expect(seen.sort()).toEqual([...ids].sort());
    await receiver.close();
  });

  it("logs no channel URL path and no secret", () => {
    expect(logLines.length).toBeGreaterThan(10);
    const all = logLines.join("");
    for (const value of neverLogged) expect(all).not.toContain(value);
    expect(all).not.toContain(KEY_TEXT);
  });
});
