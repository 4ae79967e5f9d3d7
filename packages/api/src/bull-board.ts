/**
 * Bull Board at `/admin/queues`: BullMQ's own view of the queues (runs, schedules,
 * notifications), for operators only — every route of it needs the admin token or an operator's
 * dashboard session. Read-only unless BULL_BOARD_WRITE: retrying, promoting or removing a job by
 * hand bypasses what Postgres says of its run, so it is an operator's deliberate choice.
 */

import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { FastifyAdapter } from "@bull-board/fastify";
import { NOTIFICATIONS_QUEUE, RUNS_QUEUE } from "@conveyor/core";
import { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";

/** Where Bull Board is served. */
export const BULL_BOARD_PATH = "/admin/queues";

/** The queues the workers use (worker/src/scheduler.ts names the schedules' clock). */
const QUEUES = [RUNS_QUEUE, "schedules", NOTIFICATIONS_QUEUE];

/**
 * Bull Board's page loads its bundle and styles from its own static path, reads its configuration
 * from a JSON script element and calls its API on the same origin: nothing else. It also asks
 * Google for its fonts, which this policy refuses (system fonts stand in): an operator's page
 * does not tell a third party who looks at the queues.
 */
export const BULL_BOARD_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self' 'unsafe-inline'",
].join("; ");

export interface BullBoardOptions {
  redis: Redis;
  /** QUEUE_PREFIX. */
  prefix: string;
  /** BULL_BOARD_WRITE: allow retrying, promoting and removing jobs. Default false. */
  write?: boolean;
}

/** Registers Bull Board under {@link BULL_BOARD_PATH}, every route of it admin-only. */
export async function registerBullBoard(app: FastifyInstance, options: BullBoardOptions): Promise<void> {
  const queues = QUEUES.map((name) => new Queue(name, { connection: options.redis, prefix: options.prefix }));
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: !options.write })),
    serverAdapter,
    options: { uiConfig: { boardTitle: "Conveyor queues" } },
  });
  await app.register(async (scope) => {
    // Every route Bull Board adds is an admin route, and its page gets its own policy.
    scope.addHook("onRoute", (route) => {
      route.config = { ...(route.config ?? {}), auth: "admin" };
      // Bull Board's own API, not Conveyor's: kept out of the OpenAPI document.
      route.schema = { ...(route.schema ?? {}), hide: true };
    });
    scope.addHook("onSend", async (_request, reply, payload) => {
      reply.header("content-security-policy", BULL_BOARD_CSP);
      return payload;
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: BULL_BOARD_PATH });
  });
  app.addHook("onClose", async () => {
    await Promise.all(queues.map((queue) => queue.close()));
  });
}
