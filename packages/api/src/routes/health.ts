import type { DbHandle } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { Redis } from "ioredis";

/** Liveness and readiness. Public: probes carry no credentials, and neither answer leaks data. */
export interface HealthDeps {
  db: DbHandle;
  redis: Redis;
  /** True once shutdown began: readiness fails so load balancers stop sending traffic. */
  isShuttingDown: () => boolean;
}

async function check(
  probe: () => Promise<unknown>,
  timeoutMs = 2000,
): Promise<{ status: "up" | "down"; latencyMs: number; error?: string }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return { status: "up", latencyMs: Math.round(performance.now() - started) };
  } catch (error) {
    return { status: "down", latencyMs: Math.round(performance.now() - started), error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

export function registerHealth(app: FastifyInstance, deps: HealthDeps): void {
  app.get(
    "/api/health",
    { config: { auth: "public" }, schema: { summary: "Liveness", tags: ["health"] } },
    async () => ({ status: "ok" }),
  );

  app.get(
    "/api/health/ready",
    { config: { auth: "public" }, schema: { summary: "Readiness: Postgres and Redis answer", tags: ["health"] } },
    async (_request, reply) => {
      const [database, redis] = await Promise.all([check(() => deps.db.ping()), check(() => deps.redis.ping())]);
      const shuttingDown = deps.isShuttingDown();
      const ready = !shuttingDown && database.status === "up" && redis.status === "up";
      return reply.code(ready ? 200 : 503).send({
        status: ready ? "ready" : "not_ready",
        ...(shuttingDown ? { reason: "shutting down" } : {}),
        services: { database, redis },
      });
    },
  );
}
