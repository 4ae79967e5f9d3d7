/**
 * Live run events over Server-Sent Events, resumable: every event's `id:` is its id in
 * `run_events`, so a client that reconnects with `Last-Event-ID` gets exactly the events it
 * missed (read from Postgres), then live ones (from the process's {@link EventFeed}), none lost,
 * none repeated. `GET /api/runs/:id/stream` starts with a snapshot of the run and ends after its
 * terminal event; `GET /api/stream` follows a project's runs, filtered by status, suite run and
 * schedule. A comment every `heartbeatMs` keeps proxies from closing an idle stream.
 */
import { ApiError, isTerminal, RUN_STATUSES, type RunStatus } from "@conveyor/core";
import {
  type DbHandle,
  getRun,
  lastRunEventId,
  listRuns,
  projectRunEventsAfter,
  type RunEvent,
  runEventsOfRunAfter,
  type StreamedRunEvent,
} from "@conveyor/db";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { EventFeed } from "../event-feed.ts";
import { errorResponses, runView } from "../views.ts";
import { idParams, isWellFormed, notFound } from "./common.ts";
import { runDetail } from "./runs-get.ts";

export interface StreamDeps {
  db: DbHandle;
  feed: EventFeed;
  /** Streams one API key may hold open on this process (STREAM_MAX_PER_KEY); beyond, 429. */
  maxPerKey: number;
  /** Time between two heartbeat comments, ms. Default 15000. */
  heartbeatMs?: number;
}

/** What a run's status is after an event of this type (the event's `status`). */
export function statusAfter(event: Pick<RunEvent, "type" | "data">): RunStatus {
  switch (event.type) {
    case "queued":
    case "handed_back":
    case "retry_scheduled":
    case "requeued":
    case "stalled":
      return "queued";
    case "started":
    case "cancel_requested":
      return "running";
    case "cancelled":
      return "cancelled";
    case "finished": {
      const status = (event.data as { status?: string } | null)?.status;
      return (RUN_STATUSES as readonly string[]).includes(status ?? "") ? (status as RunStatus) : "errored";
    }
  }
}

/** An event as streams send it. */
export function streamEventView(event: RunEvent) {
  return {
    id: event.id,
    runId: event.runId,
    type: event.type,
    attempt: event.attempt,
    worker: event.worker,
    data: event.data,
    createdAt: event.createdAt.toISOString(),
    status: statusAfter(event),
  };
}

function isTerminalEvent(event: Pick<RunEvent, "type" | "data">): boolean {
  return isTerminal(statusAfter(event)) && (event.type === "finished" || event.type === "cancelled");
}

/** `Last-Event-ID` (what EventSource sends on a reconnect) or `?lastEventId=`: the last id the client has. */
function lastEventIdOf(request: FastifyRequest): number | undefined {
  const header = request.headers["last-event-id"];
  const query = (request.query as { lastEventId?: string }).lastEventId;
  const raw = (Array.isArray(header) ? header[0] : header) ?? query;
  if (raw === undefined || raw === "") return undefined;
  const id = Number(raw);
  return Number.isSafeInteger(id) && id >= 0 ? id : undefined;
}

/** The open streams of each key on this process. */
const openPerKey = new Map<string, number>();

/** Whose streams a request's count against: its API key (a session, its key), else its project. */
function streamOwner(request: FastifyRequest): string {
  return request.apiKey?.keyId ?? `project:${request.projectId}`;
}

interface Sse {
  send(event: string, data: unknown, id?: number): void;
  comment(text: string): void;
  end(): void;
  closed: Promise<void>;
  isClosed(): boolean;
}

/** Takes the response over for a stream: headers, heartbeats, the per-key count, cleanup on close. */
function openSse(request: FastifyRequest, reply: FastifyReply, deps: StreamDeps): Sse {
  const key = streamOwner(request);
  openPerKey.set(key, (openPerKey.get(key) ?? 0) + 1);
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
    "x-request-id": String(request.id),
  });
  raw.write("retry: 2000\n\n");
  let closed = false;
  let resolveClosed = () => {};
  const closedPromise = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  const heartbeat = setInterval(() => {
    if (!closed) raw.write(": ping\n\n");
  }, deps.heartbeatMs ?? 15_000);
  const cleanup = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    const left = (openPerKey.get(key) ?? 1) - 1;
    if (left <= 0) openPerKey.delete(key);
    else openPerKey.set(key, left);
    resolveClosed();
  };
  request.raw.on("close", cleanup);
  raw.on("close", cleanup);
  return {
    send(event, data, id) {
      if (closed) return;
      raw.write(`${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    comment(text) {
      if (!closed) raw.write(`: ${text}\n\n`);
    },
    end() {
      if (closed) return;
      raw.end();
      cleanup();
    },
    closed: closedPromise,
    isClosed: () => closed,
  };
}

function refuseOverCap(request: FastifyRequest, deps: StreamDeps): void {
  const key = streamOwner(request);
  if ((openPerKey.get(key) ?? 0) >= deps.maxPerKey) {
    throw new ApiError(
      "rate_limited",
      `this API key already has ${deps.maxPerKey} open stream(s) on this server (STREAM_MAX_PER_KEY); close one first`,
    );
  }
}

const streamQuery = z.object({
  lastEventId: z
    .string()
    .regex(/^\d{1,18}$/, "an event id")
    .optional()
    .describe("As the Last-Event-ID header"),
});

const projectStreamQuery = streamQuery.extend({
  status: z
    .string()
    .regex(/^[a-z]+(,[a-z]+)*$/, "statuses separated by commas")
    .optional()
    .describe("Only events after which the run has one of these statuses (comma-separated)"),
  suiteRunId: z.string().min(1).max(64).optional(),
  scheduleId: z.string().min(1).max(64).optional(),
});

const sseResponse = {
  200: z.string().describe("`text/event-stream`: `snapshot`, then `run-event`s (each with `id:`), and `end`"),
  ...errorResponses,
};

export function registerStreams(app: FastifyInstance, deps: StreamDeps): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    "/api/runs/:id/stream",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "A run's events, live (Server-Sent Events; resumable with Last-Event-ID)",
        description:
          "First `event: snapshot` (the run as GET /api/runs/:id shows it; not sent on a reconnect), then every event of the run as `event: run-event` with `id:` its event id and `data` `{ id, runId, type, attempt, worker, data, createdAt, status }` (`status`: the run's status after it), oldest first, then live ones; `event: end` after the run's terminal event, and the stream closes. A reconnect with `Last-Event-ID` gets exactly the events after that id. `: ping` every 15 s. 429 beyond STREAM_MAX_PER_KEY open streams per key.",
        tags: ["runs"],
        params: idParams("run"),
        querystring: streamQuery,
        response: sseResponse,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { projectId } = request;
      const run = isWellFormed("run", id) ? await getRun(deps.db.db, projectId, id) : null;
      if (!run) throw notFound("run", id);
      refuseOverCap(request, deps);
      const resumeFrom = lastEventIdOf(request);
      const sse = openSse(request, reply, deps);
      let lastSent = resumeFrom ?? 0;
      let live = false;
      const early: StreamedRunEvent[] = [];
      const emit = (event: RunEvent) => {
        if (event.id <= lastSent || sse.isClosed()) return;
        lastSent = event.id;
        sse.send("run-event", streamEventView(event), event.id);
        if (isTerminalEvent(event)) {
          sse.send("end", { runId: id, status: statusAfter(event) });
          sse.end();
        }
      };
      const unsubscribe = await deps.feed.subscribe((event) => {
        if (event.runId !== id || event.projectId !== projectId) return;
        if (live) emit(event);
        else early.push(event);
      });
      sse.closed.then(unsubscribe, unsubscribe);
      try {
        if (resumeFrom === undefined) sse.send("snapshot", await runDetail(deps.db, run));
        for (const event of await runEventsOfRunAfter(deps.db.db, projectId, id, lastSent)) emit(event);
        live = true;
        for (const event of early.sort((a, b) => a.id - b.id)) emit(event);
        // A finished run whose terminal event the client already has: nothing more will come.
        const now = await getRun(deps.db.db, projectId, id);
        if (now && isTerminal(now.status) && !sse.isClosed()) {
          const rest = await runEventsOfRunAfter(deps.db.db, projectId, id, lastSent);
          for (const event of rest) emit(event);
          if (!sse.isClosed()) {
            sse.send("end", { runId: id, status: now.status });
            sse.end();
          }
        }
      } catch (error) {
        request.log.warn({ err: error, runId: id }, "run stream failed");
        sse.end();
      }
      await sse.closed;
    },
  );

  api.get(
    "/api/stream",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "The project's run events, live (Server-Sent Events; resumable with Last-Event-ID)",
        description:
          "First `event: snapshot` (`{ lastEventId, active }`: the last event id now and up to 100 queued or running runs; not sent on a reconnect), then every new event of the project's runs as `event: run-event` (as in GET /api/runs/:id/stream), filtered by `status`, `suiteRunId`, `scheduleId`. A reconnect with `Last-Event-ID` gets the events after that id (up to 1000 older ones), then live ones.",
        tags: ["runs"],
        querystring: projectStreamQuery,
        response: sseResponse,
      },
    },
    async (request, reply) => {
      const { projectId } = request;
      const { status, suiteRunId, scheduleId } = request.query;
      const statuses = status?.split(",");
      const unknown = statuses?.find((value) => !(RUN_STATUSES as readonly string[]).includes(value));
      if (unknown !== undefined) {
        const message = `${unknown} is not a run status (${RUN_STATUSES.join(", ")})`;
        throw new ApiError("validation_failed", `querystring.status: ${message}`, {
          fields: [{ field: "querystring.status", message }],
        });
      }
      refuseOverCap(request, deps);
      const matches = (event: StreamedRunEvent) =>
        event.projectId === projectId &&
        (suiteRunId === undefined || event.suiteRunId === suiteRunId) &&
        (scheduleId === undefined || event.scheduleId === scheduleId) &&
        (statuses === undefined || statuses.includes(statusAfter(event)));
      const resumeFrom = lastEventIdOf(request);
      const sse = openSse(request, reply, deps);
      let lastSent = resumeFrom ?? 0;
      let live = false;
      const early: StreamedRunEvent[] = [];
      const emit = (event: StreamedRunEvent) => {
        if (event.id <= lastSent || sse.isClosed()) return;
        lastSent = event.id;
        if (matches(event)) sse.send("run-event", streamEventView(event), event.id);
      };
      const unsubscribe = await deps.feed.subscribe((event) => {
        if (event.projectId !== projectId) return;
        if (live) emit(event);
        else early.push(event);
      });
      sse.closed.then(unsubscribe, unsubscribe);
      try {
        if (resumeFrom === undefined) {
          const active = await listRuns(deps.db.db, projectId, {
            limit: 100,
            status: ["queued", "running"],
            ...(suiteRunId === undefined ? {} : { suiteRunId }),
          });
          const latest = await lastRunEventId(deps.db.db);
          sse.send("snapshot", { lastEventId: latest, active: active.items.map(runView) });
          // Without Last-Event-ID the stream starts now: what the feed had before the snapshot.
          live = true;
          for (const event of early.sort((a, b) => a.id - b.id)) emit(event);
        } else {
          for (const event of await projectRunEventsAfter(deps.db.db, projectId, lastSent, 1000)) emit(event);
          live = true;
          for (const event of early.sort((a, b) => a.id - b.id)) emit(event);
        }
      } catch (error) {
        request.log.warn({ err: error }, "project stream failed");
        sse.end();
      }
      await sse.closed;
    },
  );
}
