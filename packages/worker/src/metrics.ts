import { createHash, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "@conveyor/core";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import type { ActionEnd, AttemptEnd, RunObserver } from "./stats.ts";

/**
 * This worker's own Prometheus metrics, served on WORKER_METRICS_PORT. Histograms of what it
 * executed live here rather than on the API: only the process that timed a run can observe it, and
 * Prometheus sums them across workers. Fleet-wide numbers (queue depth, backlog, runs by status,
 * worker health) are the API's (see packages/api/src/plugins/metrics.ts).
 */
export class WorkerMetrics implements RunObserver {
  readonly registry = new Registry();
  private readonly runDuration: Histogram<"status">;
  private readonly actionDuration: Histogram<"type" | "status">;
  private readonly attempts: Counter<"status">;
  private readonly capacityWaits: Counter;

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "conveyor_" });
    this.runDuration = new Histogram({
      name: "conveyor_run_duration_seconds",
      help: "Duration of run attempts executed by this worker, by how they ended (retried: an infrastructure error sent the run back to the queue).",
      labelNames: ["status"],
      buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
      registers: [this.registry],
    });
    this.actionDuration = new Histogram({
      name: "conveyor_action_duration_seconds",
      help: "Duration of actions executed by this worker, by action type and result.",
      labelNames: ["type", "status"],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [this.registry],
    });
    this.attempts = new Counter({
      name: "conveyor_worker_attempts_total",
      help: "Run attempts this worker finished, by how they ended.",
      labelNames: ["status"],
      registers: [this.registry],
    });
    this.capacityWaits = new Counter({
      name: "conveyor_worker_capacity_waits_total",
      help: "Runs this worker handed back to the queue because their project was at its concurrency limit (maxConcurrentRuns).",
      registers: [this.registry],
    });
  }

  capacityWait(): void {
    this.capacityWaits.inc();
  }

  attemptEnded(end: AttemptEnd): void {
    this.runDuration.observe({ status: end.status }, end.durationMs / 1000);
    this.attempts.inc({ status: end.status });
  }

  actionEnded(action: ActionEnd): void {
    this.actionDuration.observe({ type: action.type, status: action.status }, action.durationMs / 1000);
  }
}

function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

export interface MetricsServerOptions {
  registry: Registry;
  /** TCP port (WORKER_METRICS_PORT); 0 picks a free one. */
  port: number;
  /** Interface to listen on. Default 0.0.0.0, so Prometheus can reach a worker pod. */
  host?: string;
  /** METRICS_TOKEN: when set, scrapes must send `Authorization: Bearer <token>`. */
  token: string | undefined;
  /** METRICS_PUBLIC: without a token, answer anyone; otherwise refuse (403). Default false. */
  public?: boolean;
  logger: Logger;
}

/** A minimal HTTP server answering `GET /metrics` only. */
export async function startMetricsServer(
  options: MetricsServerOptions,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (request.method !== "GET" || path !== "/metrics") {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found: try GET /metrics\n");
      return;
    }
    if (!options.token && !options.public) {
      response
        .writeHead(403, { "content-type": "text/plain" })
        .end("metrics are disabled: set METRICS_TOKEN (and send it as a bearer token), or METRICS_PUBLIC=true\n");
      return;
    }
    if (options.token) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? "");
      if (!match?.[1] || !sameSecret(match[1], options.token)) {
        response
          .writeHead(401, { "content-type": "text/plain", "www-authenticate": "Bearer" })
          .end("send 'Authorization: Bearer <METRICS_TOKEN>'\n");
        return;
      }
    }
    options.registry.metrics().then(
      (text) => response.writeHead(200, { "content-type": options.registry.contentType }).end(text),
      (error: unknown) => {
        options.logger.error({ err: error }, "could not collect metrics");
        response.writeHead(500, { "content-type": "text/plain" }).end("could not collect metrics\n");
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host ?? "0.0.0.0", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/metrics`;
  options.logger.info({ port }, "worker metrics listening");
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
