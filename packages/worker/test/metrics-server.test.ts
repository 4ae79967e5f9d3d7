/**
 * The worker's own GET /metrics: refused without METRICS_TOKEN unless METRICS_PUBLIC, the token
 * required when set. A real HTTP server on a free port.
 */
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { startMetricsServer, WorkerMetrics } from "../src/metrics.ts";

const logger = pino({ level: "silent" });
const TOKEN = "metrics-token-0123456789";
let close: (() => Promise<void>) | undefined;

afterEach(async () => {
  await close?.();
  close = undefined;
});

async function serve(options: { token?: string; public?: boolean }) {
  const server = await startMetricsServer({
    registry: new WorkerMetrics().registry,
    port: 0,
    host: "127.0.0.1",
    token: options.token,
    ...(options.public === undefined ? {} : { public: options.public }),
    logger,
  });
  close = server.close;
  return server.url;
}

describe("worker GET /metrics", () => {
  it("is refused without METRICS_TOKEN unless METRICS_PUBLIC", async () => {
    const closed = await fetch(await serve({}));
    expect(closed.status).toBe(403);
    expect(await closed.text()).toMatch(/METRICS_TOKEN.*METRICS_PUBLIC=true/);
  });

  it("is open with METRICS_PUBLIC, and needs the token when one is set", async () => {
    const open = await fetch(await serve({ public: true }));
    expect(open.status).toBe(200);
    expect(await open.text()).toContain("conveyor_worker_capacity_waits_total 0");
    await close?.();
    const url = await serve({ token: TOKEN, public: true });
    expect((await fetch(url)).status).toBe(401);
    expect((await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);
  });
});
