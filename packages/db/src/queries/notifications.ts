/**
 * The notification outbox. A notification is written in the same transaction as the state change
 * that causes it (a run failing, a schedule pausing), with one pending delivery per enabled
 * channel it goes to: a crash before the commit loses both the change and the notification, a
 * crash after it loses neither, and the deliveries are sent later by the workers (the delivery
 * queue wakes them; the outbox sweep finds what a lost job left behind). A delivery's id is the
 * `webhook-id` receivers deduplicate on, so a retried send is recognisable as the same message.
 *
 * Every function takes `projectId` and filters by it: tenant isolation lives here.
 */
import { newId } from "@conveyor/core";
import { and, eq, inArray } from "drizzle-orm";
import {
  type AlertEventType,
  channels,
  type Delivery,
  deliveries,
  type Notification,
  notifications,
} from "../schema.ts";
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
