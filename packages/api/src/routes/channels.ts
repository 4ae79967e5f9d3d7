/**
 * Notification channels (where alerts go: a signed webhook, a Slack incoming webhook, email), their
 * deliveries, redelivery and the notification audit trail (docs/notifications.md). A channel's
 * URL (a Slack webhook URL is itself a credential) and its signing secret are sealed with
 * SECRETS_KEY before they are written and never answered again: the secret is shown once, on
 * creation and on rotation. A URL the egress policy refuses outright (a scheme, an address
 * literal) is refused here; names are checked by the sender when it resolves them.
 *
 * Scopes: the existing `runs:read` / `runs:write` (as schedules): keys store their scopes, so a new
 * scope would be missing from every key made before it.
 */
import { randomBytes } from "node:crypto";
import {
  ApiError,
  buildJob,
  checkUrl,
  type EgressPolicy,
  NOTIFICATIONS_QUEUE,
  parseSecretsKey,
  seal,
  withProjectAllow,
} from "@conveyor/core";
import {
  ALERT_EVENTS,
  type Channel,
  ChannelNameTakenError,
  type DbHandle,
  type Delivery,
  type DeliveryWithAttempts,
  deleteChannel,
  enableChannel,
  enqueueNotification,
  getChannel,
  getDelivery,
  getProjectEgressAllow,
  insertChannel,
  listChannels,
  listDeliveries,
  listNotifications,
  type Notification,
  redeliverDelivery,
  rotateChannelSecret,
} from "@conveyor/db";
import { Queue } from "bullmq";
import type { FastifyBaseLogger, FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Redis } from "ioredis";
import { z } from "zod";
import { errorResponses, noContent, pageResponse } from "../views.ts";
import { idParams, isWellFormed, paginationQuery, parseCursor } from "./common.ts";

/** How long a rotated-out webhook secret keeps signing beside the new one, ms (24 h). */
export const SECRET_OVERLAP_MS = 24 * 3_600_000;
/** Most addresses an email channel sends to. */
const MAX_EMAIL_RECIPIENTS = 20;

export const CHANNEL_TYPES = ["webhook", "slack", "email"] as const;
export const DELIVERY_STATUSES = ["pending", "delivered", "failed", "cancelled"] as const;
/** Every type a notification can have: the alert events, and the system's own. */
export const NOTIFICATION_TYPES = [...ALERT_EVENTS, "channel.disabled", "test"] as const;

export const createChannelBody = z.strictObject({
  type: z.enum(CHANNEL_TYPES).describe("webhook (signed, Standard Webhooks), slack (incoming webhook) or email"),
  name: z.string().trim().min(1).max(200).describe("Unique in the project"),
  url: z
    .url({ protocol: /^https?$/, message: "an http(s) URL" })
    .max(2048)
    .optional()
    .describe("webhook and slack: where to POST (stored encrypted, never shown again)"),
  email: z
    .array(z.email({ message: "an email address" }).max(254))
    .min(1)
    .max(MAX_EMAIL_RECIPIENTS)
    .optional()
    .describe("email: the recipients"),
});

export const channelResponse = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(CHANNEL_TYPES),
  target: z.string().describe("Where it sends, without secrets: scheme and host, or the recipients' domains"),
  enabled: z.boolean(),
  disabledReason: z.string().nullable(),
  disabledAt: z.string().nullable(),
  failingSince: z.string().nullable().describe("First failed attempt of the current streak of failures"),
  previousSecretExpiresAt: z
    .string()
    .nullable()
    .describe("webhook: until when the secret before the last rotation still signs beside the new one"),
  createdAt: z.string(),
  updatedAt: z.string(),
});

const withSecret = z.object({
  channel: channelResponse,
  secret: z.string().describe("webhook: the signing secret (whsec_…). Shown once; store it now"),
});
const createChannelResponse = z.object({
  channel: channelResponse,
  secret: z.string().optional().describe("webhook: the signing secret (whsec_…). Shown once; store it now"),
});

const attemptResponse = z.object({
  attempt: z.number().int(),
  at: z.string(),
  durationMs: z.number().int().nullable(),
  responseStatus: z.number().int().nullable(),
  responseBody: z.string().nullable(),
  error: z.string().nullable(),
});

export const deliveryResponse = z.object({
  id: z.string().describe("Stable across attempts: the webhook-id header receivers deduplicate on"),
  notificationId: z.string(),
  channelId: z.string(),
  type: z.enum(NOTIFICATION_TYPES),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number().int().describe("Attempts made"),
  nextAttemptAt: z.string().nullable(),
  lastAttemptAt: z.string().nullable(),
  responseStatus: z.number().int().nullable().describe("Of the latest attempt"),
  responseBody: z.string().nullable().describe("The first 1 KB of the latest attempt's response"),
  lastError: z.string().nullable(),
  deliveredAt: z.string().nullable(),
  createdAt: z.string(),
  attemptLog: z.array(attemptResponse).describe("Every attempt, oldest first"),
});

export const notificationResponse = z.object({
  id: z.string(),
  type: z.enum(NOTIFICATION_TYPES),
  ruleId: z.string().nullable(),
  runId: z.string().nullable(),
  suiteRunId: z.string().nullable(),
  scheduleId: z.string().nullable(),
  recordingId: z.string().nullable(),
  payload: z.record(z.string(), z.unknown()).describe("The event as delivered (the webhook body's data)"),
  createdAt: z.string(),
  deliveries: z.array(z.object({ id: z.string(), channelId: z.string(), status: z.enum(DELIVERY_STATUSES) })),
});

const iso = (date: Date | null) => date?.toISOString() ?? null;

export function channelView(channel: Channel, now = new Date()) {
  const overlap = channel.previousSecretExpiresAt;
  return {
    id: channel.id,
    name: channel.name,
    type: channel.type,
    target: channel.targetHint,
    enabled: channel.enabled,
    disabledReason: channel.disabledReason,
    disabledAt: iso(channel.disabledAt),
    failingSince: iso(channel.failingSince),
    previousSecretExpiresAt: overlap && overlap.getTime() > now.getTime() ? overlap.toISOString() : null,
    createdAt: channel.createdAt.toISOString(),
    updatedAt: channel.updatedAt.toISOString(),
  };
}

export function deliveryView(delivery: DeliveryWithAttempts) {
  return {
    id: delivery.id,
    notificationId: delivery.notificationId,
    channelId: delivery.channelId,
    type: delivery.type,
    status: delivery.status,
    attempts: delivery.attempts,
    nextAttemptAt: iso(delivery.nextAttemptAt),
    lastAttemptAt: iso(delivery.lastAttemptAt),
    responseStatus: delivery.responseStatus,
    responseBody: delivery.responseBody,
    lastError: delivery.lastError,
    deliveredAt: iso(delivery.deliveredAt),
    createdAt: delivery.createdAt.toISOString(),
    attemptLog: delivery.attemptLog.map((attempt) => ({
      attempt: attempt.attempt,
      at: attempt.at.toISOString(),
      durationMs: attempt.durationMs,
      responseStatus: attempt.responseStatus,
      responseBody: attempt.responseBody,
      error: attempt.error,
    })),
  };
}

function notificationView(
  notification: Notification & { deliveries: Pick<Delivery, "id" | "channelId" | "status">[] },
) {
  return {
    id: notification.id,
    type: notification.type,
    ruleId: notification.ruleId,
    runId: notification.runId,
    suiteRunId: notification.suiteRunId,
    scheduleId: notification.scheduleId,
    recordingId: notification.recordingId,
    payload: notification.payload,
    createdAt: notification.createdAt.toISOString(),
    deliveries: notification.deliveries,
  };
}

function invalid(field: string, message: string): ApiError {
  return new ApiError("validation_failed", `${field}: ${message}`, { fields: [{ field, message }] });
}

/** A new Standard Webhooks secret: `whsec_` and 32 random bytes, base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/** What a URL may show: its scheme and host (the path of a Slack webhook URL is its secret). */
function urlHint(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname === "/" && !url.search ? "/" : "/…"}`;
}

/** What email recipients may show: their first letter and domain. */
function emailHint(addresses: readonly string[]): string {
  return addresses
    .map((address) => {
      const at = address.lastIndexOf("@");
      return `${address.slice(0, 1)}…${address.slice(at)}`;
    })
    .join(", ");
}

export interface ChannelRouteDeps {
  db: DbHandle;
  redis: Redis;
  queuePrefix: string;
  /** SECRETS_KEY: seals channel URLs and secrets; webhook and Slack channels need it. */
  secretsKey: string | undefined;
  egressPolicy: EgressPolicy;
}

export function registerChannelRoutes(app: FastifyInstance, deps: ChannelRouteDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const key = deps.secretsKey ? parseSecretsKey(deps.secretsKey) : undefined;
  // Made on first use: an API that never sends a notification holds no extra connection.
  let queue: Queue | undefined;
  const notificationsQueue = () => {
    queue ??= new Queue(NOTIFICATIONS_QUEUE, { connection: deps.redis, prefix: deps.queuePrefix });
    return queue;
  };
  app.addHook("onClose", async () => {
    await queue?.close();
  });

  /** Wakes a sender for a delivery's next attempt; a lost add is the outbox sweep's. */
  const wake = async (delivery: Delivery, log: FastifyBaseLogger) => {
    const job = buildJob(
      "deliver",
      { deliveryId: delivery.id, projectId: delivery.projectId, attempt: delivery.attempts + 1 },
      { delayMs: 0 },
    );
    await notificationsQueue()
      .add(job.name, job.data, job.opts)
      .catch((error: unknown) => {
        log.warn(
          { err: error, deliveryId: delivery.id },
          "enqueue of a delivery failed; the outbox sweep will send it",
        );
      });
  };

  const load = async (projectId: string, id: string): Promise<Channel> => {
    const channel = isWellFormed("channel", id) ? await getChannel(deps.db.db, projectId, id) : null;
    if (!channel) throw new ApiError("not_found", `No channel ${id} in this project`);
    return channel;
  };

  const sealOrRefuse = (value: string, field: string): string => {
    if (!key) {
      throw invalid(
        field,
        "webhook and Slack channels are stored encrypted, and this server has no SECRETS_KEY; set SECRETS_KEY on the API and workers",
      );
    }
    return seal(value, key);
  };

  api.post(
    "/api/channels",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Create a notification channel: a signed webhook, a Slack incoming webhook or email",
        description:
          '`{ type, name, url }` for webhook and slack, `{ type: "email", name, email: [...] }` for email. A webhook\'s signing secret is in the answer, once. A URL the egress policy refuses is a 400 naming body.url. See docs/notifications.md.',
        tags: ["notifications"],
        body: createChannelBody,
        response: { 201: createChannelResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { body, projectId } = request;
      let targetSealed: string;
      let targetHint: string;
      let secret: string | undefined;
      if (body.type === "email") {
        if (body.url !== undefined) throw invalid("body.url", "an email channel takes `email`, not `url`");
        if (body.email === undefined)
          throw invalid("body.email", "an email channel needs `email`: a list of addresses");
        const addresses = [...new Set(body.email.map((address) => address.toLowerCase()))];
        const target = JSON.stringify({ email: addresses });
        targetSealed = key ? seal(target, key) : target;
        targetHint = emailHint(addresses);
      } else {
        if (body.email !== undefined)
          throw invalid("body.email", `a ${body.type} channel takes \`url\`, not \`email\``);
        if (body.url === undefined) throw invalid("body.url", `a ${body.type} channel needs \`url\``);
        const policy = withProjectAllow(deps.egressPolicy, await getProjectEgressAllow(deps.db.db, projectId));
        const check = checkUrl(policy, body.url);
        if (!check.allowed) {
          throw new ApiError(
            "validation_failed",
            `body.url: ${check.url} is refused by the egress policy (${check.rule}); an operator can open it with EGRESS_ALLOW, or the project's allowlist within EGRESS_PROJECT_MAX`,
            {
              fields: [{ field: "body.url", message: `refused by the egress policy: ${check.rule}`, rule: check.rule }],
            },
          );
        }
        const url = new URL(body.url);
        targetSealed = sealOrRefuse(JSON.stringify({ url: body.url }), "body.url");
        targetHint = urlHint(url);
        if (body.type === "webhook") secret = newWebhookSecret();
      }
      const channel = await insertChannel(deps.db.db, projectId, {
        name: body.name,
        type: body.type,
        targetSealed,
        targetHint,
        secretSealed: secret === undefined ? null : sealOrRefuse(secret, "body.url"),
      }).catch((error: unknown) => {
        if (error instanceof ChannelNameTakenError) throw new ApiError("conflict", error.message);
        throw error;
      });
      request.log.info({ channelId: channel.id, type: channel.type, target: targetHint }, "channel created");
      return reply
        .code(201)
        .header("location", `/api/channels/${channel.id}`)
        .send({ channel: channelView(channel), ...(secret === undefined ? {} : { secret }) });
    },
  );

  api.get(
    "/api/channels",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "List notification channels, newest first (never their URLs or secrets)",
        tags: ["notifications"],
        querystring: z.object(paginationQuery),
        response: { 200: pageResponse(channelResponse), ...errorResponses },
      },
    },
    async (request) => {
      const page = await listChannels(deps.db.db, request.projectId, {
        limit: request.query.limit,
        cursor: parseCursor(request.query.cursor),
      });
      const now = new Date();
      return { items: page.items.map((channel) => channelView(channel, now)), nextCursor: page.nextCursor };
    },
  );

  api.get(
    "/api/channels/:id",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "A notification channel (never its URL or secret)",
        tags: ["notifications"],
        params: idParams("channel"),
        response: { 200: channelResponse, ...errorResponses },
      },
    },
    async (request) => channelView(await load(request.projectId, request.params.id)),
  );

  api.delete(
    "/api/channels/:id",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Delete a channel and its deliveries (pending ones are not sent); the notifications stay",
        tags: ["notifications"],
        params: idParams("channel"),
        response: { 204: noContent("Deleted"), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const deleted = isWellFormed("channel", id) ? await deleteChannel(deps.db.db, request.projectId, id) : false;
      if (!deleted) throw new ApiError("not_found", `No channel ${id} in this project`);
      return reply.code(204).send();
    },
  );

  api.post(
    "/api/channels/:id/rotate-secret",
    {
      config: { scope: "runs:write" },
      schema: {
        summary:
          "Give a webhook channel a new signing secret (shown once); the old one keeps signing beside it for 24 h",
        description:
          "During the overlap every delivery carries two signatures in `webhook-signature` (space-separated), so receivers can switch secrets at their own pace.",
        tags: ["notifications"],
        params: idParams("channel"),
        response: { 200: withSecret, ...errorResponses },
      },
    },
    async (request) => {
      const channel = await load(request.projectId, request.params.id);
      if (channel.type !== "webhook") {
        throw new ApiError(
          "conflict",
          `Channel ${channel.id} is a ${channel.type} channel: only webhooks have a secret`,
        );
      }
      const secret = newWebhookSecret();
      const now = new Date();
      const rotated = await rotateChannelSecret(
        deps.db.db,
        request.projectId,
        channel.id,
        sealOrRefuse(secret, "secret"),
        new Date(now.getTime() + SECRET_OVERLAP_MS),
        now,
      );
      if (!rotated) throw new ApiError("not_found", `No channel ${channel.id} in this project`);
      request.log.info({ channelId: channel.id }, "channel secret rotated");
      return { channel: channelView(rotated, now), secret };
    },
  );

  api.post(
    "/api/channels/:id/enable",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Enable a channel again after it was disabled (410 Gone, or failing for 3 days)",
        description: "Deliveries cancelled when it was disabled stay cancelled; redeliver them one by one.",
        tags: ["notifications"],
        params: idParams("channel"),
        response: { 200: channelResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const channel = isWellFormed("channel", id) ? await enableChannel(deps.db.db, request.projectId, id) : null;
      if (!channel) throw new ApiError("not_found", `No channel ${id} in this project`);
      return channelView(channel);
    },
  );

  api.post(
    "/api/channels/:id/test",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Send a `test` notification to this channel",
        description: "Answers 202 with the delivery; follow it with GET /api/channels/:id/deliveries.",
        tags: ["notifications"],
        params: idParams("channel"),
        response: { 202: deliveryResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const channel = await load(request.projectId, request.params.id);
      if (!channel.enabled) {
        throw new ApiError(
          "conflict",
          `Channel ${channel.id} is disabled (${channel.disabledReason ?? "disabled"}); enable it first: POST /api/channels/${channel.id}/enable`,
        );
      }
      const { notification, deliveries } = await enqueueNotification(deps.db.db, {
        projectId: request.projectId,
        type: "test",
        channelIds: [channel.id],
        payload: {
          message: `A test notification from Conveyor to the channel "${channel.name}"`,
          channel: { id: channel.id, name: channel.name, type: channel.type },
        },
      });
      const [delivery] = deliveries;
      if (!delivery) throw new ApiError("conflict", `Channel ${channel.id} was disabled meanwhile; enable it first`);
      await wake(delivery, request.log);
      return reply.code(202).send(deliveryView({ ...delivery, type: notification.type, attemptLog: [] }));
    },
  );

  api.get(
    "/api/channels/:id/deliveries",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "A channel's deliveries, newest first: status, attempts, the latest response and every attempt",
        tags: ["notifications"],
        params: idParams("channel"),
        querystring: z.object({
          ...paginationQuery,
          status: z.enum(DELIVERY_STATUSES).optional().describe("Only deliveries in this status"),
        }),
        response: { 200: pageResponse(deliveryResponse), ...errorResponses },
      },
    },
    async (request) => {
      const { query, projectId } = request;
      const cursor = parseCursor(query.cursor);
      const channel = await load(projectId, request.params.id);
      const page = await listDeliveries(deps.db.db, projectId, channel.id, {
        limit: query.limit,
        cursor,
        ...(query.status ? { status: query.status } : {}),
      });
      return { items: page.items.map(deliveryView), nextCursor: page.nextCursor };
    },
  );

  api.get(
    "/api/deliveries/:id",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "A delivery, with every attempt",
        tags: ["notifications"],
        params: idParams("delivery"),
        response: { 200: deliveryResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const delivery = isWellFormed("delivery", id) ? await getDelivery(deps.db.db, request.projectId, id) : null;
      if (!delivery) throw new ApiError("not_found", `No delivery ${id} in this project`);
      return deliveryView(delivery);
    },
  );

  api.post(
    "/api/deliveries/:id/redeliver",
    {
      config: { scope: "runs:write" },
      schema: {
        summary: "Send a delivery again: a new attempt of the same delivery (same id, so receivers can deduplicate)",
        description:
          "The delivery becomes pending and due now, whatever its status; its attempts go on counting. Should the new attempt fail, the rest of the retry schedule follows it (a delivery that used all its attempts fails again at once). 409 when the channel is disabled.",
        tags: ["notifications"],
        params: idParams("delivery"),
        response: { 202: deliveryResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { projectId } = request;
      const result = isWellFormed("delivery", id)
        ? await redeliverDelivery(deps.db.db, projectId, id)
        : ({ refused: "not_found" } as const);
      if ("refused" in result) {
        if (result.refused === "not_found") throw new ApiError("not_found", `No delivery ${id} in this project`);
        throw new ApiError("conflict", `The channel of delivery ${id} is disabled; enable it first`);
      }
      await wake(result.delivery, request.log);
      const shown = await getDelivery(deps.db.db, projectId, id);
      if (!shown) throw new ApiError("not_found", `No delivery ${id} in this project`);
      return reply.code(202).send(deliveryView(shown));
    },
  );

  api.get(
    "/api/notifications",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "The audit trail: every notification decided, newest first, with its deliveries",
        tags: ["notifications"],
        querystring: z.object({
          ...paginationQuery,
          type: z.enum(NOTIFICATION_TYPES).optional().describe("Only notifications of this type"),
        }),
        response: { 200: pageResponse(notificationResponse), ...errorResponses },
      },
    },
    async (request) => {
      const { query } = request;
      const page = await listNotifications(deps.db.db, request.projectId, {
        limit: query.limit,
        cursor: parseCursor(query.cursor),
        ...(query.type ? { type: query.type } : {}),
      });
      return { items: page.items.map(notificationView), nextCursor: page.nextCursor };
    },
  );
}
