/**
 * The notifications subsystem of a worker: a BullMQ worker on the `notifications` queue whose
 * jobs (one per delivery attempt) wake it to send, and the outbox sweep that finds what a lost
 * job left behind. Postgres is the truth (db/queries/notifications.ts): an attempt is claimed
 * there before anything is sent, so two workers (or a job and a sweep) never make the same
 * attempt twice, and its outcome decides the next attempt's time, which is written before the
 * next job is added (a lost add is the sweep's).
 */
import {
  buildJob,
  type EgressPolicy,
  type Logger,
  NOTIFICATIONS_QUEUE,
  readJob,
  unseal,
  withProjectAllow,
} from "@conveyor/core";
import {
  type ClaimedAttempt,
  claimDeliveryAttempt,
  type DbHandle,
  type Delivery,
  dueDeliveries,
  getProjectEgressAllow,
  recordDeliveryOutcome,
} from "@conveyor/db";
import { Queue, UnrecoverableError, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { Transporter } from "nodemailer";
import { type AttemptResult, DEFAULT_RETRY_SCHEDULE_MS, DISABLE_AFTER_MS, decide } from "./policy.ts";
import { sendEmail, sendSlack, sendWebhook } from "./senders.ts";

export interface NotifierOptions {
  db: DbHandle;
  connection: Redis;
  /** QUEUE_PREFIX. */
  prefix: string;
  logger: Logger;
  /** The operator's egress policy; each project's allowlist is added per delivery. */
  egressPolicy: EgressPolicy;
  /** SECRETS_KEY: opens channel URLs and secrets. */
  secretsKey: Buffer | undefined;
  /** Waits before each attempt, ms (NOTIFY_RETRY_SCHEDULE_MS). Default {@link DEFAULT_RETRY_SCHEDULE_MS}. */
  retryScheduleMs?: readonly number[];
  /** One attempt's budget, ms (NOTIFY_TIMEOUT_MS). Default 10000. */
  timeoutMs?: number;
  /** PUBLIC_URL: makes links in Slack and email absolute. Default: unset (paths). */
  publicUrl?: string | undefined;
  /** The SMTP transport (SMTP_*); unset: email deliveries fail their attempts saying so. */
  mail?: { transport: Transporter; from: string } | undefined;
  /** Attempts sent at once by this worker. Default 4. */
  concurrency?: number;
  /** Deliveries the sweep hands to the queue per pass. Default 500. */
  sweepBatch?: number;
  /** A channel failing this long is disabled, ms. Default 3 days. */
  disableAfterMs?: number;
  now?: () => Date;
}

/** Why nothing was sent for a job. */
export type DeliverOutcome = "skipped" | "delivered" | "retry" | "failed";

export class Notifier {
  private readonly options: NotifierOptions;
  private readonly queue: Queue;
  private worker: Worker | undefined;
  private readonly schedule: readonly number[];
  private readonly timeoutMs: number;

  constructor(options: NotifierOptions) {
    this.options = options;
    this.schedule = options.retryScheduleMs ?? DEFAULT_RETRY_SCHEDULE_MS;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.queue = new Queue(NOTIFICATIONS_QUEUE, { connection: options.connection, prefix: options.prefix });
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /**
   * How long a claimed attempt keeps its delivery from being due again, ms: past the attempt's
   * own timeout with room to write its outcome. A worker that dies during an attempt delays the
   * next one by this much.
   */
  get leaseMs(): number {
    return this.timeoutMs * 2 + 5_000;
  }

  async start(): Promise<void> {
    this.worker = new Worker(
      NOTIFICATIONS_QUEUE,
      async (job) => {
        const read = readJob("deliver", job);
        if (!read.ok) throw new UnrecoverableError(read.message);
        return this.deliver(read.payload.deliveryId, read.payload.attempt);
      },
      {
        connection: this.options.connection,
        prefix: this.options.prefix,
        concurrency: this.options.concurrency ?? 4,
      },
    );
    this.worker.on("error", (error) => this.options.logger.warn({ err: error }, "notifications worker error"));
    this.worker.on("failed", (job, error) =>
      this.options.logger.warn({ err: error, jobId: job?.id }, "a delivery job failed; the outbox sweep retries it"),
    );
    await this.worker.waitUntilReady();
  }

  /** Adds the job of a delivery's next attempt (idempotent while the job lives). */
  async wake(delivery: Pick<Delivery, "id" | "projectId" | "attempts" | "nextAttemptAt">): Promise<void> {
    const delayMs = Math.max(0, (delivery.nextAttemptAt?.getTime() ?? 0) - this.now().getTime());
    const job = buildJob(
      "deliver",
      { deliveryId: delivery.id, projectId: delivery.projectId, attempt: delivery.attempts + 1 },
      { delayMs },
    );
    await this.queue.add(job.name, job.data, job.opts);
  }

  /**
   * The outbox sweep: adds the job of every due pending delivery (a job that exists already is
   * left as it is). What finds a delivery whose enqueue was lost (the API or a worker died after
   * its commit, Redis was flushed) or whose worker died during an attempt.
   */
  async sweep(): Promise<{ enqueued: number }> {
    const due = await dueDeliveries(this.options.db.db, this.now(), this.options.sweepBatch ?? 500);
    if (due.length === 0) return { enqueued: 0 };
    await this.queue.addBulk(
      due.map((delivery) => {
        const job = buildJob(
          "deliver",
          { deliveryId: delivery.id, projectId: delivery.projectId, attempt: delivery.attempt },
          { delayMs: 0 },
        );
        return { name: job.name, data: job.data, opts: job.opts };
      }),
    );
    return { enqueued: due.length };
  }

  /** Makes attempt `attempt` of a delivery, if it is still to be made. */
  async deliver(deliveryId: string, attempt: number): Promise<DeliverOutcome> {
    const { db, logger } = this.options;
    const claimed = await claimDeliveryAttempt(db.db, {
      deliveryId,
      attempt,
      now: this.now(),
      leaseMs: this.leaseMs,
    });
    if (!claimed) return "skipped";
    const started = this.now();
    const result = await this.send(claimed, started).catch(
      (error: unknown): AttemptResult => ({
        kind: "error",
        message: error instanceof Error ? error.message : String(error),
        permanent: false,
      }),
    );
    const ended = this.now();
    const decision = decide(attempt, result, this.schedule, ended);
    const recorded = await recordDeliveryOutcome(db.db, {
      deliveryId,
      attempt,
      now: ended,
      disableAfterMs: this.options.disableAfterMs ?? DISABLE_AFTER_MS,
      outcome: {
        result: decision.result,
        ...(decision.result === "retry" ? { nextAttemptAt: new Date(ended.getTime() + (decision.delayMs ?? 0)) } : {}),
        durationMs: Math.max(0, ended.getTime() - started.getTime()),
        responseStatus: result.kind === "response" ? result.status : null,
        responseBody: result.kind === "response" ? result.body : result.kind === "accepted" ? result.reply : null,
        error: decision.error,
        ...(decision.disableChannel ? { disableChannel: decision.disableChannel } : {}),
      },
    });
    const fields = {
      deliveryId,
      attempt,
      channelId: claimed.channel.id,
      projectId: claimed.channel.projectId,
      type: claimed.notification.type,
      status: result.kind === "response" ? result.status : undefined,
    };
    if (!recorded) {
      logger.warn(fields, "a delivery attempt's outcome was not recorded: the attempt was taken over");
      return "skipped";
    }
    if (decision.result === "delivered") logger.info(fields, "notification delivered");
    else logger.warn({ ...fields, error: decision.error, result: decision.result }, "notification attempt failed");
    if (recorded.disabled) {
      logger.warn(
        {
          channelId: recorded.disabled.channel.id,
          projectId: recorded.disabled.channel.projectId,
          reason: recorded.disabled.reason,
        },
        "notification channel disabled",
      );
    }
    const next = [...(decision.result === "retry" ? [recorded.delivery] : []), ...recorded.enqueue];
    for (const delivery of next) {
      await this.wake(delivery).catch((error: unknown) =>
        logger.warn({ err: error, deliveryId: delivery.id }, "could not enqueue a delivery; the outbox sweep will"),
      );
    }
    return decision.result;
  }

  private async send(claimed: ClaimedAttempt, now: Date): Promise<AttemptResult> {
    const { channel, notification, delivery } = claimed;
    const key = this.options.secretsKey;
    const target = JSON.parse(unseal(channel.targetSealed, key)) as { url?: string; email?: string[] };
    if (channel.type === "email") {
      return sendEmail({
        deliveryId: delivery.id,
        to: target.email ?? [],
        notification,
        transport: this.options.mail?.transport,
        from: this.options.mail?.from ?? "",
        publicUrl: this.options.publicUrl,
        timeoutMs: this.timeoutMs,
      });
    }
    const policy = withProjectAllow(
      this.options.egressPolicy,
      await getProjectEgressAllow(this.options.db.db, channel.projectId),
    );
    const url = target.url ?? "";
    if (channel.type === "slack") {
      return sendSlack({ url, notification, policy, timeoutMs: this.timeoutMs, publicUrl: this.options.publicUrl });
    }
    const secrets = [
      ...(channel.secretSealed ? [unseal(channel.secretSealed, key)] : []),
      ...(channel.previousSecretSealed &&
      channel.previousSecretExpiresAt &&
      channel.previousSecretExpiresAt.getTime() > now.getTime()
        ? [unseal(channel.previousSecretSealed, key)]
        : []),
    ];
    return sendWebhook({ deliveryId: delivery.id, url, secrets, notification, policy, timeoutMs: this.timeoutMs, now });
  }

  /** Takes no new job, waits for the attempts under way (each ends within its timeout), closes. */
  async stop(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
