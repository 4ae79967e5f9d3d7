/**
 * The notification outbox's queries on real Postgres: an attempt is claimed at most once however
 * many senders try at once, an outcome is fenced by its attempt, a channel failing for longer
 * than the limit is disabled and announced on the project's other channels in the same
 * transaction, and another project sees none of it.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  claimDeliveryAttempt,
  dueDeliveries,
  enqueueNotification,
  getChannel,
  getDelivery,
  insertChannel,
  listChannels,
  listDeliveries,
  listNotifications,
  recordDeliveryOutcome,
  redeliverDelivery,
} from "../src/queries/notifications.ts";
import { createProject } from "../src/queries/projects.ts";
import { createTestDatabase, type TestDatabase } from "../src/testing.ts";

const DAY_MS = 86_400_000;
let db: TestDatabase;
let projectId: string;
let otherProjectId: string;

beforeAll(async () => {
  db = await createTestDatabase("notifications");
  projectId = (await createProject(db.db, { name: "notify" })).project.id;
  otherProjectId = (await createProject(db.db, { name: "other" })).project.id;
});

afterAll(async () => {
  await db?.drop();
});

function channel(name: string) {
  return insertChannel(db.db, projectId, {
    name,
    type: "webhook",
    targetSealed: "enc:v1:not-read-here",
    targetHint: "https://example.com/…",
    secretSealed: "enc:v1:not-read-here",
  });
}

const failure = { result: "retry" as const, durationMs: 5, responseStatus: 500, responseBody: "no", error: "HTTP 500" };

describe("the outbox's queries", () => {
  it("claims an attempt once among concurrent senders, and fences the outcome by attempt", async () => {
    const target = await channel("claimed");
    const now = new Date();
    const { deliveries } = await enqueueNotification(db.db, {
      projectId,
      type: "test",
      channelIds: [target.id],
      payload: {},
      at: now,
    });
    const [delivery] = deliveries;
    if (!delivery) throw new Error("no delivery");
    expect((await dueDeliveries(db.db, now, 100)).map((due) => due.id)).toContain(delivery.id);

    const claims = await Promise.all(
      Array.from({ length: 5 }, () =>
        claimDeliveryAttempt(db.db, { deliveryId: delivery.id, attempt: 1, now, leaseMs: 60_000 }),
      ),
    );
    expect(claims.filter((claim) => claim !== null)).toHaveLength(1);
    // Under way: not due again before its lease ends, and attempt 1 cannot be claimed again.
    expect((await dueDeliveries(db.db, now, 100)).map((due) => due.id)).not.toContain(delivery.id);
    expect(await claimDeliveryAttempt(db.db, { deliveryId: delivery.id, attempt: 1, now, leaseMs: 1 })).toBeNull();

    const next = new Date(now.getTime() + 5000);
    const recorded = await recordDeliveryOutcome(db.db, {
      deliveryId: delivery.id,
      attempt: 1,
      now,
      outcome: { ...failure, nextAttemptAt: next },
      disableAfterMs: 3 * DAY_MS,
    });
    expect(recorded?.delivery).toMatchObject({ status: "pending", attempts: 1, responseStatus: 500 });
    // A stale sender of attempt 1 writes nothing.
    expect(
      await recordDeliveryOutcome(db.db, {
        deliveryId: delivery.id,
        attempt: 2,
        now,
        outcome: { ...failure, result: "delivered" },
        disableAfterMs: 3 * DAY_MS,
      }),
    ).toBeNull();
    expect(await claimDeliveryAttempt(db.db, { deliveryId: delivery.id, attempt: 2, now, leaseMs: 1 })).toBeNull();
    expect(
      await claimDeliveryAttempt(db.db, { deliveryId: delivery.id, attempt: 2, now: next, leaseMs: 1 }),
    ).not.toBeNull();
    await recordDeliveryOutcome(db.db, {
      deliveryId: delivery.id,
      attempt: 2,
      now: next,
      outcome: { result: "delivered", durationMs: 3, responseStatus: 204, responseBody: "", error: null },
      disableAfterMs: 3 * DAY_MS,
    });
    const shown = await getDelivery(db.db, projectId, delivery.id);
    expect(shown).toMatchObject({ status: "delivered", attempts: 2, responseStatus: 204, type: "test" });
    expect(shown?.attemptLog.map((a) => [a.attempt, a.responseStatus])).toEqual([
      [1, 500],
      [2, 204],
    ]);
    expect((await getChannel(db.db, projectId, target.id))?.failingSince).toBeNull();

    // Redelivery: the same delivery, due now, its next attempt numbered after the others.
    const again = await redeliverDelivery(db.db, projectId, delivery.id, next);
    expect(again).toMatchObject({ delivery: { id: delivery.id, status: "pending", attempts: 2 } });
    expect((await dueDeliveries(db.db, next, 100)).find((due) => due.id === delivery.id)?.attempt).toBe(3);
  });

  it("disables a channel failing for longer than the limit and announces it on the others", async () => {
    const failing = await channel("failing");
    const witness = await channel("witness");
    const start = new Date(Date.now() - 4 * DAY_MS);
    const send = async (at: Date) => {
      const { deliveries } = await enqueueNotification(db.db, {
        projectId,
        type: "test",
        channelIds: [failing.id],
        payload: {},
        at,
      });
      const id = deliveries[0]?.id ?? "";
      await claimDeliveryAttempt(db.db, { deliveryId: id, attempt: 1, now: at, leaseMs: 1000 });
      return recordDeliveryOutcome(db.db, {
        deliveryId: id,
        attempt: 1,
        now: at,
        outcome: { ...failure, nextAttemptAt: at },
        disableAfterMs: 3 * DAY_MS,
      });
    };
    expect((await send(start))?.disabled).toBeNull();
    expect((await getChannel(db.db, projectId, failing.id))?.failingSince?.getTime()).toBe(start.getTime());
    // A second notification, still pending, is cancelled with the channel.
    const { deliveries: waiting } = await enqueueNotification(db.db, {
      projectId,
      type: "test",
      channelIds: [failing.id],
      payload: {},
    });
    const recorded = await send(new Date());
    expect(recorded?.disabled?.reason).toMatch(/every delivery has failed since/);
    expect(recorded?.enqueue.map((d) => d.channelId)).toContain(witness.id);
    expect(recorded?.enqueue.map((d) => d.channelId)).not.toContain(failing.id);
    expect(await getChannel(db.db, projectId, failing.id)).toMatchObject({ enabled: false });
    expect(await getDelivery(db.db, projectId, waiting[0]?.id ?? "")).toMatchObject({ status: "cancelled" });
    const audit = await listNotifications(db.db, projectId, { limit: 10, type: "channel.disabled" });
    expect(audit.items[0]?.payload).toMatchObject({ channel: { id: failing.id, name: "failing" } });
    expect(await redeliverDelivery(db.db, projectId, waiting[0]?.id ?? "")).toEqual({ refused: "channel_disabled" });
  });

  it("shows another project nothing", async () => {
    const target = await channel("private");
    const { deliveries, notification } = await enqueueNotification(db.db, {
      projectId,
      type: "test",
      channelIds: [target.id],
      payload: {},
    });
    const id = deliveries[0]?.id ?? "";
    expect(await getChannel(db.db, otherProjectId, target.id)).toBeNull();
    expect((await listChannels(db.db, otherProjectId, { limit: 100 })).items).toEqual([]);
    expect(await getDelivery(db.db, otherProjectId, id)).toBeNull();
    expect((await listDeliveries(db.db, otherProjectId, target.id, { limit: 100 })).items).toEqual([]);
    expect((await listNotifications(db.db, otherProjectId, { limit: 100 })).items.map((n) => n.id)).not.toContain(
      notification.id,
    );
    expect(await redeliverDelivery(db.db, otherProjectId, id)).toEqual({ refused: "not_found" });
    // A channel of another project is not delivered to.
    const foreign = await enqueueNotification(db.db, {
      projectId: otherProjectId,
      type: "test",
      channelIds: [target.id],
      payload: {},
    });
    expect(foreign.deliveries).toEqual([]);
  });
});
