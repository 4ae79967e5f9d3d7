/**
 * Channels through the API on real Postgres and Redis: created with the URL and secret sealed at
 * rest and the secret answered once (on creation and rotation), never again; bad input names the
 * field; a URL the egress policy refuses is a 400 naming body.url; a test notification is a
 * pending delivery whose job is on the notifications queue; redelivery keeps the delivery id.
 */
import { JOB_CATALOG, NOTIFICATIONS_QUEUE } from "@conveyor/core";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, createProjectViaApi, createTestApp, type TestApp } from "./helpers.ts";

const HOOK_URL = "https://hooks.example.com/services/T000/B000/very-secret-path";
let t: TestApp;
let apiKey: string;
let queue: Queue;

beforeAll(async () => {
  t = await createTestApp("channels");
  apiKey = (await createProjectViaApi(t.app, "channels")).apiKey;
  queue = new Queue(NOTIFICATIONS_QUEUE, { connection: t.redis, prefix: t.prefix });
});

afterAll(async () => {
  await queue?.close();
  await t?.close();
});

function call(method: "GET" | "POST" | "DELETE", url: string, payload?: unknown) {
  return t.app.inject({
    method,
    url,
    headers: auth(apiKey),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
}

describe("channels", () => {
  it("creates a webhook channel: the secret once, the URL and secret sealed at rest, neither answered again", async () => {
    const created = await call("POST", "/api/channels", { type: "webhook", name: "ops hook", url: HOOK_URL });
    expect(created.statusCode).toBe(201);
    const { channel, secret } = created.json();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    expect(channel).toMatchObject({
      name: "ops hook",
      type: "webhook",
      target: "https://hooks.example.com/…",
      enabled: true,
    });
    expect(created.body).not.toContain("very-secret-path");

    const [row] = await t.db.query<{ target_sealed: string; secret_sealed: string }>(
      "select * from channels where id = $1",
      [channel.id],
    );
    expect(row?.target_sealed).toMatch(/^enc:v1:/);
    expect(row?.secret_sealed).toMatch(/^enc:v1:/);
    expect(JSON.stringify(row)).not.toContain("very-secret-path");
    expect(JSON.stringify(row)).not.toContain(secret.slice(6));

    for (const url of [`/api/channels/${channel.id}`, "/api/channels"]) {
      const shown = await call("GET", url);
      expect(shown.statusCode).toBe(200);
      expect(shown.body).not.toContain("very-secret-path");
      expect(shown.body).not.toContain(secret.slice(6));
      expect(shown.body).not.toContain("whsec_");
    }

    const rotated = await call("POST", `/api/channels/${channel.id}/rotate-secret`);
    expect(rotated.statusCode).toBe(200);
    expect(rotated.json().secret).toMatch(/^whsec_/);
    expect(rotated.json().secret).not.toBe(secret);
    const overlap = Date.parse(rotated.json().channel.previousSecretExpiresAt) - Date.now();
    expect(overlap).toBeGreaterThan(23 * 3_600_000);
    expect(overlap).toBeLessThanOrEqual(24 * 3_600_000);
    const after = await call("GET", `/api/channels/${channel.id}`);
    expect(after.body).not.toContain(rotated.json().secret.slice(6));

    const duplicate = await call("POST", "/api/channels", { type: "webhook", name: "ops hook", url: HOOK_URL });
    expect(duplicate.statusCode).toBe(409);
  });

  it("creates Slack and email channels (no secret), and refuses bad input naming the field", async () => {
    const slack = await call("POST", "/api/channels", { type: "slack", name: "slack", url: HOOK_URL });
    expect(slack.statusCode).toBe(201);
    expect(slack.json().secret).toBeUndefined();
    const email = await call("POST", "/api/channels", {
      type: "email",
      name: "mail",
      email: ["oncall@example.com", "Lead@Example.org"],
    });
    expect(email.statusCode).toBe(201);
    expect(email.json().channel.target).toBe("o…@example.com, l…@example.org");
    expect((await call("POST", `/api/channels/${slack.json().channel.id}/rotate-secret`)).statusCode).toBe(409);

    const cases: [unknown, string][] = [
      [{ type: "webhook", name: "x" }, "body.url"],
      [{ type: "webhook", name: "x", url: "ftp://example.com/" }, "body.url"],
      [{ type: "webhook", name: "x", url: "https://example.com/", email: ["a@example.com"] }, "body.email"],
      [{ type: "email", name: "x" }, "body.email"],
      [{ type: "email", name: "x", email: ["not an address"] }, "body.email"],
      [{ type: "email", name: "x", email: ["a@example.com"], url: "https://example.com/" }, "body.url"],
      [{ type: "pager", name: "x", url: "https://example.com/" }, "body.type"],
      [{ type: "webhook", name: "", url: "https://example.com/" }, "body.name"],
    ];
    for (const [payload, field] of cases) {
      const response = await call("POST", "/api/channels", payload);
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(response.json().error.message, JSON.stringify(payload)).toContain(field);
    }
  });

  it("refuses a URL the egress policy denies (private, metadata, loopback), naming body.url", async () => {
    for (const url of [
      "http://10.1.2.3/hook",
      "http://169.254.169.254/latest/meta-data",
      "http://127.0.0.1:9/hook",
      "http://localhost/hook",
      "http://[::ffff:10.0.0.1]/hook",
    ]) {
      const response = await call("POST", "/api/channels", { type: "webhook", name: `denied ${url}`, url });
      expect(response.statusCode, url).toBe(400);
      expect(response.json().error.message, url).toMatch(/^body\.url: .*refused by the egress policy/);
      expect(response.json().error.details.fields[0].field).toBe("body.url");
    }
  });

  it("refuses webhook and Slack channels without SECRETS_KEY (email still works)", async () => {
    const bare = await createTestApp("channels-nokey", { secretsKey: undefined });
    try {
      const key = (await createProjectViaApi(bare.app, "nokey")).apiKey;
      const hook = await bare.app.inject({
        method: "POST",
        url: "/api/channels",
        headers: auth(key),
        payload: { type: "slack", name: "s", url: HOOK_URL },
      });
      expect(hook.statusCode).toBe(400);
      expect(hook.json().error.message).toMatch(/^body\.url: .*SECRETS_KEY/);
      const email = await bare.app.inject({
        method: "POST",
        url: "/api/channels",
        headers: auth(key),
        payload: { type: "email", name: "e", email: ["a@example.com"] },
      });
      expect(email.statusCode).toBe(201);
    } finally {
      await bare.close();
    }
  });

  it("sends a test notification: a pending delivery with its job queued; redelivery keeps the id; the audit trail lists it", async () => {
    const created = await call("POST", "/api/channels", { type: "webhook", name: "tested", url: HOOK_URL });
    const channelId = created.json().channel.id;
    const tested = await call("POST", `/api/channels/${channelId}/test`);
    expect(tested.statusCode).toBe(202);
    const delivery = tested.json();
    expect(delivery).toMatchObject({ channelId, type: "test", status: "pending", attempts: 0, attemptLog: [] });
    const job = await queue.getJob(`${delivery.id}-1`);
    expect(job?.name).toBe(JOB_CATALOG.deliver.name);
    expect(job?.data).toMatchObject({ deliveryId: delivery.id, attempt: 1 });

    const list = await call("GET", `/api/channels/${channelId}/deliveries`);
    expect(list.json().items.map((d: { id: string }) => d.id)).toEqual([delivery.id]);
    expect((await call("GET", `/api/channels/${channelId}/deliveries?status=delivered`)).json().items).toEqual([]);
    expect((await call("GET", `/api/deliveries/${delivery.id}`)).json().id).toBe(delivery.id);

    // As if a sender had failed it for good: redelivery makes the same delivery pending again.
    await t.db.query("update deliveries set status = 'failed', attempts = 8, next_attempt_at = null where id = $1", [
      delivery.id,
    ]);
    const again = await call("POST", `/api/deliveries/${delivery.id}/redeliver`);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toMatchObject({ id: delivery.id, status: "pending", attempts: 8 });
    expect((await queue.getJob(`${delivery.id}-9`))?.data).toMatchObject({ deliveryId: delivery.id, attempt: 9 });

    const audit = await call("GET", "/api/notifications?type=test");
    expect(audit.json().items[0]).toMatchObject({
      id: delivery.notificationId,
      type: "test",
      payload: { channel: { id: channelId, name: "tested" } },
      deliveries: [{ id: delivery.id, channelId, status: "pending" }],
    });

    // A disabled channel: no test, no redelivery, until it is enabled again.
    await t.db.query("update channels set enabled = false, disabled_reason = 'gone' where id = $1", [channelId]);
    expect((await call("POST", `/api/channels/${channelId}/test`)).statusCode).toBe(409);
    expect((await call("POST", `/api/deliveries/${delivery.id}/redeliver`)).statusCode).toBe(409);
    const enabled = await call("POST", `/api/channels/${channelId}/enable`);
    expect(enabled.json()).toMatchObject({ enabled: true, disabledReason: null });
    expect((await call("POST", `/api/channels/${channelId}/test`)).statusCode).toBe(202);

    expect((await call("DELETE", `/api/channels/${channelId}`)).statusCode).toBe(204);
    expect((await call("GET", `/api/channels/${channelId}`)).statusCode).toBe(404);
    expect((await call("GET", `/api/deliveries/${delivery.id}`)).statusCode).toBe(404);
  });
});
