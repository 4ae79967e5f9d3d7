/**
 * The senders, one per channel type: a signed webhook (Standard Webhooks), a Slack incoming
 * webhook, an email. HTTP goes through `egressRequest` under the project's egress policy (the
 * name resolved here, every address checked, the connection made to the checked address, no
 * redirect followed); email goes to the operator's SMTP server (SMTP_*), not a tenant's choice.
 * A sender returns what the attempt got; the policy (policy.ts) decides what it means.
 */
import type { EgressPolicy } from "@conveyor/core";
import type { Notification } from "@conveyor/db";
import { EgressBlockedError, EgressUnreachableError, egressRequest } from "@conveyor/egress";
import type { Transporter } from "nodemailer";
import { Webhook } from "standardwebhooks";
import type { AttemptResult } from "./policy.ts";
import { render, renderText, slackMessage } from "./render.ts";

/** The body every webhook gets: `{ type, timestamp, data }`. */
export function webhookBody(notification: Pick<Notification, "type" | "payload" | "createdAt">): string {
  return JSON.stringify({
    type: notification.type,
    timestamp: notification.createdAt.toISOString(),
    data: notification.payload,
  });
}

/**
 * Standard Webhooks headers for one attempt: `webhook-id` (the delivery id, the same on every
 * attempt), `webhook-timestamp` (this attempt, s) and `webhook-signature`, one `v1,…` per secret
 * (the current one, and the previous one while a rotation's overlap lasts), space-separated.
 */
export function signatureHeaders(
  deliveryId: string,
  body: string,
  secrets: readonly string[],
  at: Date,
): Record<string, string> {
  const seconds = new Date(Math.floor(at.getTime() / 1000) * 1000);
  return {
    "webhook-id": deliveryId,
    "webhook-timestamp": String(seconds.getTime() / 1000),
    "webhook-signature": secrets.map((secret) => new Webhook(secret).sign(deliveryId, seconds, body)).join(" "),
  };
}

const USER_AGENT = "Conveyor-Webhooks/1";

/** POSTs `body` to `url` under `policy`; the answer, or the error that prevented one. */
export async function postJson(
  url: string,
  body: string,
  headers: Record<string, string>,
  options: { policy: EgressPolicy; timeoutMs: number },
): Promise<AttemptResult> {
  try {
    const response = await egressRequest(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": USER_AGENT, ...headers },
      body,
      timeoutMs: options.timeoutMs,
      maxResponseBytes: 1024,
      policy: options.policy,
    });
    const retryAfter = response.headers["retry-after"];
    return {
      kind: "response",
      status: response.status,
      body: response.body.toString("utf8"),
      retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
    };
  } catch (error) {
    // Messages name the URL without its credentials; a Slack URL's path is its secret, so the
    // path is cut from what is stored and logged.
    if (error instanceof EgressBlockedError) {
      return {
        kind: "error",
        message: `blocked by the egress policy: ${hostOf(url)} (${error.rule})`,
        permanent: true,
      };
    }
    if (error instanceof EgressUnreachableError) {
      return { kind: "error", message: `could not reach ${hostOf(url)}: ${error.reason}`, permanent: false };
    }
    throw error;
  }
}

/** Scheme and host of a URL, for messages (never its path or credentials). */
export function hostOf(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return "(not a URL)";
  }
}

export async function sendWebhook(input: {
  deliveryId: string;
  url: string;
  secrets: readonly string[];
  notification: Notification;
  policy: EgressPolicy;
  timeoutMs: number;
  now: Date;
}): Promise<AttemptResult> {
  const body = webhookBody(input.notification);
  const headers = signatureHeaders(input.deliveryId, body, input.secrets, input.now);
  return postJson(input.url, body, headers, { policy: input.policy, timeoutMs: input.timeoutMs });
}

export async function sendSlack(input: {
  url: string;
  notification: Notification;
  policy: EgressPolicy;
  timeoutMs: number;
  publicUrl: string | undefined;
}): Promise<AttemptResult> {
  const body = JSON.stringify(slackMessage(render(input.notification, input.publicUrl)));
  return postJson(input.url, body, {}, { policy: input.policy, timeoutMs: input.timeoutMs });
}

export async function sendEmail(input: {
  deliveryId: string;
  to: readonly string[];
  notification: Notification;
  transport: Transporter | undefined;
  from: string;
  publicUrl: string | undefined;
  timeoutMs: number;
}): Promise<AttemptResult> {
  if (!input.transport) {
    return { kind: "error", message: "SMTP_HOST is not set on the workers: email cannot be sent", permanent: false };
  }
  const rendered = render(input.notification, input.publicUrl);
  let timer: NodeJS.Timeout | undefined;
  try {
    const info = await Promise.race([
      input.transport.sendMail({
        from: input.from,
        to: [...input.to],
        subject: `[Conveyor] ${rendered.title}`,
        text: renderText(rendered),
        // The delivery id, so a mail client (or a filter) can tell a resend from a new message.
        messageId: `<${input.deliveryId}@conveyor>`,
        headers: { "X-Conveyor-Delivery": input.deliveryId, "X-Conveyor-Event": input.notification.type },
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${input.timeoutMs} ms`)), input.timeoutMs);
      }),
    ]);
    return { kind: "accepted", reply: String((info as { response?: unknown }).response ?? "accepted").slice(0, 1024) };
  } catch (error) {
    const smtp = error as { responseCode?: number; message?: string };
    const message = `SMTP: ${smtp.message ?? String(error)}`.slice(0, 1024);
    return { kind: "error", message, permanent: false };
  } finally {
    clearTimeout(timer);
  }
}
