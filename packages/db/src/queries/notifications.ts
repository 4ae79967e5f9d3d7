/**
 * The notification outbox. A notification is written in the same transaction as the state change
 * that causes it (a run failing, a schedule pausing), with one pending delivery per enabled
 * channel it goes to: a crash before the commit loses both the change and the notification, a
 * crash after it loses neither, and the deliveries are sent later by the workers (the delivery
 * queue wakes them; the outbox sweep finds what a lost job left behind). A delivery's id is the
 * `webhook-id` receivers deduplicate on, so a retried send is recognisable as the same message.
 *
 * Every function a request reaches takes `projectId` and filters by it: tenant isolation lives
 * here. The senders' functions ({@link dueDeliveries}, {@link claimDeliveryAttempt},
 * {@link recordDeliveryOutcome}) work across projects, as the workers do; they act on one
 * delivery by id and carry its project on.
 */
import { newId } from "@conveyor/core";
import { and, desc, eq, inArray, isNull, lt, lte, ne, sql } from "drizzle-orm";
import { type Db, isUniqueViolation } from "../client.ts";
import {
  type AlertEventType,
  type Channel,
  type ChannelType,
  channels,
  type Delivery,
  type DeliveryAttempt,
  deliveries,
  deliveryAttempts,
  type Notification,
  notifications,
} from "../schema.ts";
import { beforeCursor, type Page, toPage } from "./pagination.ts";
import type { Executor } from "./runs-transition.ts";

export interface NewNotification {
  projectId: string;
  type: AlertEventType;
  /** The channels to deliver to; disabled ones and other projects' are skipped. */
  channelIds: readonly string[];
  /** The event as receivers get it (the webhook body's `data`). */
  payload: Record<string, unknown>;
  ruleId?: string | null;
  runId?: string | null;
  suiteRunId?: string | null;
  scheduleId?: string | null;
  recordingId?: string | null;
  /** When the deliveries are first due. Default: now. */
  at?: Date;
}

/**
 * Writes a notification and its pending deliveries (in the caller's transaction, when given one).
 * Returns them; `deliveries` is empty when none of the channels is enabled (the notification is
 * still logged, as the audit trail of what was decided).
 */
export async function enqueueNotification(
  tx: Executor,
  input: NewNotification,
): Promise<{ notification: Notification; deliveries: Delivery[] }> {
  const at = input.at ?? new Date();
  const [notification] = await tx
    .insert(notifications)
    .values({
      id: newId("notification", at.getTime()),
      projectId: input.projectId,
      type: input.type,
      ruleId: input.ruleId ?? null,
      runId: input.runId ?? null,
      suiteRunId: input.suiteRunId ?? null,
      scheduleId: input.scheduleId ?? null,
      recordingId: input.recordingId ?? null,
      payload: input.payload,
      createdAt: at,
    })
    .returning();
  if (!notification) throw new Error("notification insert returned no row");
  const ids = [...new Set(input.channelIds)];
  if (ids.length === 0) return { notification, deliveries: [] };
  const targets = await tx
    .select({ id: channels.id })
    .from(channels)
    .where(and(eq(channels.projectId, input.projectId), inArray(channels.id, ids), eq(channels.enabled, true)));
  if (targets.length === 0) return { notification, deliveries: [] };
  const rows = await tx
    .insert(deliveries)
    .values(
      targets.map((channel) => ({
        id: newId("delivery", at.getTime()),
        projectId: input.projectId,
        notificationId: notification.id,
        channelId: channel.id,
        status: "pending" as const,
        nextAttemptAt: at,
        createdAt: at,
        updatedAt: at,
      })),
    )
    .returning();
  return { notification, deliveries: rows };
}

/** A channel with this name already exists in the project. */
export class ChannelNameTakenError extends Error {
  constructor(name: string) {
    super(`A channel named "${name}" already exists in this project`);
    this.name = "ChannelNameTakenError";
  }
}

/** A channel as the API writes it: target and secret already sealed. */
export interface NewChannel {
  name: string;
  type: ChannelType;
  targetSealed: string;
  targetHint: string;
  secretSealed: string | null;
}

export async function insertChannel(db: Db, projectId: string, input: NewChannel, now = new Date()): Promise<Channel> {
  try {
    const [row] = await db
      .insert(channels)
      .values({ id: newId("channel", now.getTime()), projectId, ...input, createdAt: now, updatedAt: now })
      .returning();
    if (!row) throw new Error("insert into channels returned no row");
    return row;
  } catch (error) {
    if (isUniqueViolation(error, "channels_project_name_idx")) throw new ChannelNameTakenError(input.name);
    throw error;
  }
}

export async function getChannel(db: Executor, projectId: string, id: string): Promise<Channel | null> {
  const [row] = await db
    .select()
    .from(channels)
    .where(and(eq(channels.projectId, projectId), eq(channels.id, id)))
    .limit(1);
  return row ?? null;
}

export async function listChannels(
  db: Db,
  projectId: string,
  options: { limit: number; cursor?: { createdAt: Date; id: string } },
): Promise<Page<Channel>> {
  const rows = await db
    .select()
    .from(channels)
    .where(
      and(
        eq(channels.projectId, projectId),
        options.cursor ? beforeCursor(channels.createdAt, channels.id, options.cursor) : undefined,
      ),
    )
    .orderBy(desc(channels.createdAt), desc(channels.id))
    .limit(options.limit + 1);
  return toPage(rows, options.limit);
}

/** Deletes a channel with its deliveries (the notifications, the audit trail, stay). */
export async function deleteChannel(db: Db, projectId: string, id: string): Promise<boolean> {
  const deleted = await db
    .delete(channels)
    .where(and(eq(channels.projectId, projectId), eq(channels.id, id)))
    .returning({ id: channels.id });
  return deleted.length > 0;
}

/**
 * Replaces a webhook channel's secret: the current one becomes the previous one, which keeps
 * signing alongside the new one until `previousExpiresAt` (a secret rotated earlier than that is
 * dropped). Null when the channel does not exist.
 */
export async function rotateChannelSecret(
  db: Db,
  projectId: string,
  id: string,
  secretSealed: string,
  previousExpiresAt: Date,
  now = new Date(),
): Promise<Channel | null> {
  const [row] = await db
    .update(channels)
    .set({
      previousSecretSealed: sql`${channels.secretSealed}`,
      previousSecretExpiresAt: previousExpiresAt,
      secretSealed,
      updatedAt: now,
    })
    .where(and(eq(channels.projectId, projectId), eq(channels.id, id)))
    .returning();
  return row ?? null;
}

/** Enables a channel again (after it was disabled): its failure streak starts over. */
export async function enableChannel(db: Db, projectId: string, id: string, now = new Date()): Promise<Channel | null> {
  const [row] = await db
    .update(channels)
    .set({ enabled: true, disabledReason: null, disabledAt: null, failingSince: null, updatedAt: now })
    .where(and(eq(channels.projectId, projectId), eq(channels.id, id)))
    .returning();
  return row ?? null;
}

/** A delivery with its notification's type and every attempt, oldest first. */
export interface DeliveryWithAttempts extends Delivery {
  type: AlertEventType;
  attemptLog: DeliveryAttempt[];
}

async function withAttempts(
  db: Executor,
  projectId: string,
  rows: { delivery: Delivery; type: AlertEventType }[],
): Promise<DeliveryWithAttempts[]> {
  const ids = rows.map((row) => row.delivery.id);
  const attempts =
    ids.length === 0
      ? []
      : await db
          .select()
          .from(deliveryAttempts)
          .where(and(eq(deliveryAttempts.projectId, projectId), inArray(deliveryAttempts.deliveryId, ids)))
          .orderBy(deliveryAttempts.deliveryId, deliveryAttempts.attempt);
  return rows.map(({ delivery, type }) => ({
    ...delivery,
    type,
    attemptLog: attempts.filter((attempt) => attempt.deliveryId === delivery.id),
  }));
}

/** A channel's deliveries, newest first, each with its attempts. */
export async function listDeliveries(
  db: Db,
  projectId: string,
  channelId: string,
  options: { limit: number; cursor?: { createdAt: Date; id: string }; status?: Delivery["status"] },
): Promise<Page<DeliveryWithAttempts>> {
  const rows = await db
    .select({ delivery: deliveries, type: notifications.type })
    .from(deliveries)
    .innerJoin(notifications, eq(notifications.id, deliveries.notificationId))
    .where(
      and(
        eq(deliveries.projectId, projectId),
        eq(deliveries.channelId, channelId),
        options.status ? eq(deliveries.status, options.status) : undefined,
        options.cursor ? beforeCursor(deliveries.createdAt, deliveries.id, options.cursor) : undefined,
      ),
    )
    .orderBy(desc(deliveries.createdAt), desc(deliveries.id))
    .limit(options.limit + 1);
  const page = toPage(
    rows.map((row) => ({ ...row, createdAt: row.delivery.createdAt, id: row.delivery.id })),
    options.limit,
  );
  return { items: await withAttempts(db, projectId, page.items), nextCursor: page.nextCursor };
}

export async function getDelivery(db: Executor, projectId: string, id: string): Promise<DeliveryWithAttempts | null> {
  const rows = await db
    .select({ delivery: deliveries, type: notifications.type })
    .from(deliveries)
    .innerJoin(notifications, eq(notifications.id, deliveries.notificationId))
    .where(and(eq(deliveries.projectId, projectId), eq(deliveries.id, id)))
    .limit(1);
  const [row] = await withAttempts(db, projectId, rows);
  return row ?? null;
}

/**
 * Sends a delivery again: the same delivery (the same id, so a receiver that deduplicates sees
 * the same message) becomes pending and due now; its next attempt is numbered after the ones it
 * had. `channel_disabled` when its channel is disabled (enable it first).
 */
export async function redeliverDelivery(
  db: Db,
  projectId: string,
  id: string,
  now = new Date(),
): Promise<{ delivery: Delivery } | { refused: "not_found" | "channel_disabled" }> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select({ delivery: deliveries, enabled: channels.enabled })
      .from(deliveries)
      .innerJoin(channels, eq(channels.id, deliveries.channelId))
      .where(and(eq(deliveries.projectId, projectId), eq(deliveries.id, id)))
      .for("update", { of: deliveries })
      .limit(1);
    if (!row) return { refused: "not_found" as const };
    if (!row.enabled) return { refused: "channel_disabled" as const };
    const [delivery] = await tx
      .update(deliveries)
      .set({ status: "pending", nextAttemptAt: now, deliveredAt: null, updatedAt: now })
      .where(eq(deliveries.id, id))
      .returning();
    if (!delivery) return { refused: "not_found" as const };
    return { delivery };
  });
}

/** The audit trail: notifications newest first, each with its deliveries' ids, channels and statuses. */
export async function listNotifications(
  db: Db,
  projectId: string,
  options: { limit: number; cursor?: { createdAt: Date; id: string }; type?: AlertEventType },
): Promise<Page<Notification & { deliveries: Pick<Delivery, "id" | "channelId" | "status">[] }>> {
  const rows = await db
    .select()
    .from(notifications)
    .where(
      and(
        eq(notifications.projectId, projectId),
        options.type ? eq(notifications.type, options.type) : undefined,
        options.cursor ? beforeCursor(notifications.createdAt, notifications.id, options.cursor) : undefined,
      ),
    )
    .orderBy(desc(notifications.createdAt), desc(notifications.id))
    .limit(options.limit + 1);
  const page = toPage(rows, options.limit);
  const ids = page.items.map((row) => row.id);
  const sent =
    ids.length === 0
      ? []
      : await db
          .select({
            id: deliveries.id,
            channelId: deliveries.channelId,
            status: deliveries.status,
            notificationId: deliveries.notificationId,
          })
          .from(deliveries)
          .where(and(eq(deliveries.projectId, projectId), inArray(deliveries.notificationId, ids)))
          .orderBy(deliveries.id);
  return {
    items: page.items.map((row) => ({
      ...row,
      deliveries: sent
        .filter((delivery) => delivery.notificationId === row.id)
        .map(({ id, channelId, status }) => ({ id, channelId, status })),
    })),
    nextCursor: page.nextCursor,
  };
}

// ---------------------------------------------------------------------------------------------
// The senders' side (workers): across projects, one delivery at a time.

/** A pending delivery that is due, and the attempt it is due for. */
export interface DueDelivery {
  id: string;
  projectId: string;
  /** The attempt to make (attempts made + 1). */
  attempt: number;
}

/**
 * Pending deliveries due at `now` (oldest due first): what the outbox sweep hands to the queue.
 * A delivery whose attempt is under way is not due: its claim moved `next_attempt_at` past the
 * attempt's end.
 */
export async function dueDeliveries(db: Db, now: Date, limit: number): Promise<DueDelivery[]> {
  const rows = await db
    .select({ id: deliveries.id, projectId: deliveries.projectId, attempts: deliveries.attempts })
    .from(deliveries)
    .where(and(eq(deliveries.status, "pending"), lte(deliveries.nextAttemptAt, now)))
    .orderBy(deliveries.nextAttemptAt)
    .limit(limit);
  return rows.map((row) => ({ id: row.id, projectId: row.projectId, attempt: row.attempts + 1 }));
}

/** What a sender needs for one attempt. */
export interface ClaimedAttempt {
  delivery: Delivery;
  channel: Channel;
  notification: Notification;
}

/** What an attempt whose worker stopped before it ended says, once the next attempt starts. */
export const INTERRUPTED_ATTEMPT = "no outcome recorded: the worker stopped during the attempt";

/**
 * Takes attempt `attempt` of a delivery, so that it is made at most once whatever the number of
 * workers and jobs: a conditional update that applies only while the delivery is pending, due,
 * and has made `attempt - 1` attempts. It counts the attempt, writes its row, and moves
 * `next_attempt_at` to `now + leaseMs`: should the worker die during the attempt, the outbox sweep
 * sees the delivery due again after that and the next attempt is made (the receiver may then get
 * the same webhook-id twice: what it deduplicates on). Returns null when the attempt is not to be
 * made (made already, not due, no longer pending); a delivery whose channel was disabled is
 * cancelled instead (and null returned).
 */
export async function claimDeliveryAttempt(
  db: Db,
  input: { deliveryId: string; attempt: number; now: Date; leaseMs: number },
): Promise<ClaimedAttempt | null> {
  const { deliveryId, attempt, now } = input;
  return db.transaction(async (tx) => {
    const [delivery] = await tx
      .update(deliveries)
      .set({
        attempts: attempt,
        lastAttemptAt: now,
        nextAttemptAt: new Date(now.getTime() + input.leaseMs),
        updatedAt: now,
      })
      .where(
        and(
          eq(deliveries.id, deliveryId),
          eq(deliveries.status, "pending"),
          eq(deliveries.attempts, attempt - 1),
          lte(deliveries.nextAttemptAt, now),
        ),
      )
      .returning();
    if (!delivery) return null;
    const [channel] = await tx.select().from(channels).where(eq(channels.id, delivery.channelId)).limit(1);
    const [notification] = await tx
      .select()
      .from(notifications)
      .where(eq(notifications.id, delivery.notificationId))
      .limit(1);
    if (!channel || !notification) return null;
    if (!channel.enabled) {
      await tx
        .update(deliveries)
        .set({
          status: "cancelled",
          attempts: attempt - 1,
          nextAttemptAt: null,
          lastError: `channel disabled: ${channel.disabledReason ?? "disabled"}`,
          updatedAt: now,
        })
        .where(eq(deliveries.id, deliveryId));
      return null;
    }
    await tx
      .update(deliveryAttempts)
      .set({ error: INTERRUPTED_ATTEMPT })
      .where(
        and(
          eq(deliveryAttempts.deliveryId, deliveryId),
          lt(deliveryAttempts.attempt, attempt),
          isNull(deliveryAttempts.durationMs),
          isNull(deliveryAttempts.error),
        ),
      );
    await tx
      .insert(deliveryAttempts)
      .values({ deliveryId, attempt, projectId: delivery.projectId, at: now })
      .onConflictDoNothing();
    return { delivery, channel, notification };
  });
}

/** What an attempt came to, as the sender decided it. */
export interface AttemptOutcome {
  /** `delivered`: a 2xx. `retry`: due again at `nextAttemptAt`. `failed`: no more attempts. */
  result: "delivered" | "retry" | "failed";
  nextAttemptAt?: Date;
  durationMs: number;
  responseStatus: number | null;
  /** The first 1 KB of the response (or the SMTP server's reply). */
  responseBody: string | null;
  error: string | null;
  /** Disable the channel at once, with this reason (a 410 Gone). */
  disableChannel?: string;
}

/** An attempt's outcome as written, and what the caller enqueues after the commit. */
export interface RecordedOutcome {
  delivery: Delivery;
  /** Set when the channel was disabled now (410, or failing for longer than `disableAfterMs`). */
  disabled: { channel: Channel; reason: string } | null;
  /** New deliveries (a `channel.disabled` notification to the project's other channels). */
  enqueue: Delivery[];
}

/**
 * Writes an attempt's outcome, fenced by the attempt (a sender whose attempt was taken over writes
 * nothing and gets null): the attempt's row, the delivery's latest state, the channel's failure
 * streak (`failing_since`, cleared by a success). A failure that ends a streak older than
 * `disableAfterMs`, or an outcome that asks for it (410), disables the channel, cancels its other
 * pending deliveries and announces it (`channel.disabled`) on the project's other enabled
 * channels, in the same transaction.
 */
export async function recordDeliveryOutcome(
  db: Db,
  input: { deliveryId: string; attempt: number; now: Date; outcome: AttemptOutcome; disableAfterMs: number },
): Promise<RecordedOutcome | null> {
  const { deliveryId, attempt, now, outcome } = input;
  return db.transaction(async (tx) => {
    const [delivery] = await tx
      .update(deliveries)
      .set({
        status: outcome.result === "delivered" ? "delivered" : outcome.result === "failed" ? "failed" : "pending",
        nextAttemptAt: outcome.result === "retry" ? (outcome.nextAttemptAt ?? now) : null,
        responseStatus: outcome.responseStatus,
        responseBody: outcome.responseBody,
        lastError: outcome.error,
        deliveredAt: outcome.result === "delivered" ? now : null,
        updatedAt: now,
      })
      .where(and(eq(deliveries.id, deliveryId), eq(deliveries.status, "pending"), eq(deliveries.attempts, attempt)))
      .returning();
    if (!delivery) return null;
    await tx
      .update(deliveryAttempts)
      .set({
        durationMs: outcome.durationMs,
        responseStatus: outcome.responseStatus,
        responseBody: outcome.responseBody,
        error: outcome.error,
      })
      .where(and(eq(deliveryAttempts.deliveryId, deliveryId), eq(deliveryAttempts.attempt, attempt)));
    if (outcome.result === "delivered") {
      await tx
        .update(channels)
        .set({ failingSince: null, updatedAt: now })
        .where(and(eq(channels.id, delivery.channelId), sql`${channels.failingSince} is not null`));
      return { delivery, disabled: null, enqueue: [] };
    }
    const [channel] = await tx
      .update(channels)
      .set({ failingSince: sql`coalesce(${channels.failingSince}, ${now.toISOString()}::timestamptz)`, updatedAt: now })
      .where(eq(channels.id, delivery.channelId))
      .returning();
    if (!channel?.enabled) return { delivery, disabled: null, enqueue: [] };
    let reason = outcome.disableChannel ?? null;
    if (
      reason === null &&
      channel.failingSince &&
      now.getTime() - channel.failingSince.getTime() >= input.disableAfterMs
    ) {
      reason = `every delivery has failed since ${channel.failingSince.toISOString()}`;
    }
    if (reason === null) return { delivery, disabled: null, enqueue: [] };
    const [disabled] = await tx
      .update(channels)
      .set({ enabled: false, disabledReason: reason, disabledAt: now, updatedAt: now })
      .where(eq(channels.id, channel.id))
      .returning();
    await tx
      .update(deliveries)
      .set({ status: "cancelled", nextAttemptAt: null, lastError: `channel disabled: ${reason}`, updatedAt: now })
      .where(
        and(eq(deliveries.channelId, channel.id), eq(deliveries.status, "pending"), ne(deliveries.id, deliveryId)),
      );
    const others = await tx
      .select({ id: channels.id })
      .from(channels)
      .where(and(eq(channels.projectId, channel.projectId), eq(channels.enabled, true), ne(channels.id, channel.id)));
    const announced = await enqueueNotification(tx, {
      projectId: channel.projectId,
      type: "channel.disabled",
      channelIds: others.map((other) => other.id),
      payload: {
        channel: { id: channel.id, name: channel.name, type: channel.type },
        reason,
        disabledAt: now.toISOString(),
        failingSince: channel.failingSince?.toISOString() ?? null,
      },
      at: now,
    });
    return { delivery, disabled: { channel: disabled ?? channel, reason }, enqueue: announced.deliveries };
  });
}
