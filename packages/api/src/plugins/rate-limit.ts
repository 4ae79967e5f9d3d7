import { ApiError } from "@conveyor/core";
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import { batchedRedisStore } from "./rate-limit-store.ts";

/** Requests a minute per budget; 0 turns a budget off. */
export interface RateLimits {
  /** `POST /api/runs` (RATE_LIMIT_SUBMIT_PER_MIN). */
  submitPerMin: number;
  /** Every other write: POST, PATCH, DELETE (RATE_LIMIT_WRITE_PER_MIN). */
  writePerMin: number;
  /** Reads: GET (RATE_LIMIT_READ_PER_MIN). */
  readPerMin: number;
}

type Budget = "submit" | "write" | "read";

/** Routes that are never limited: probes a load balancer or Kubernetes calls, and Prometheus. */
const UNLIMITED = new Set(["/api/health", "/api/health/ready", "/metrics"]);

function budgetOf(method: string, url: string): Budget {
  if (method === "POST" && url === "/api/runs") return "submit";
  return method === "GET" || method === "HEAD" ? "read" : "write";
}

/** Who a budget belongs to: the API key when there is one, else the client address. */
function owner(request: FastifyRequest): string {
  return request.apiKey ? `key:${request.apiKey.keyId}` : `ip:${request.ip}`;
}

/**
 * Rate limits on a Redis store (`@fastify/rate-limit`), so they hold across API replicas: three
 * budgets a minute — run submission, other writes, reads — per API key (per client address for
 * routes without one). Checked after authentication, before the body is parsed; concurrent checks
 * share one Redis round trip (rate-limit-store.ts), with exact counts. Over budget:
 * `429 rate_limited` with `Retry-After` and the `RateLimit-*` headers. If Redis cannot answer, the
 * request goes through (the queue itself needs Redis, and will say so).
 */
export async function registerRateLimits(
  app: FastifyInstance,
  deps: { redis: Redis; prefix: string; limits: RateLimits },
): Promise<void> {
  const perMin: Record<Budget, number> = {
    submit: deps.limits.submitPerMin,
    write: deps.limits.writePerMin,
    read: deps.limits.readPerMin,
  };
  // Before the plugin's own onRoute hook, which reads `config.rateLimit`.
  app.addHook("onRoute", (route) => {
    if (route.config?.rateLimit !== undefined) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const budget = budgetOf(String(methods[0]), route.url);
    const max = perMin[budget];
    const limited = max > 0 && !UNLIMITED.has(route.url) && !route.url.startsWith("/docs");
    route.config = {
      ...(route.config ?? {}),
      rateLimit: limited ? { max, timeWindow: 60_000, groupId: budget } : false,
    };
  });
  await app.register(rateLimit, {
    global: false,
    // The plugin's Redis store, with concurrent requests' checks batched into one round trip.
    store: batchedRedisStore(deps.redis, `${deps.prefix}:ratelimit:`),
    hook: "preParsing",
    enableDraftSpec: true,
    skipOnError: true,
    // While the connection is down, requests are not held behind a command that can only time
    // out: they go through unlimited until Redis is back.
    allowList: () => deps.redis.status !== "ready",
    keyGenerator: owner,
    errorResponseBuilder: (request, context) => {
      const budget = request.routeOptions.config?.rateLimit;
      const group = typeof budget === "object" ? budget.groupId : undefined;
      return new ApiError(
        "rate_limited",
        `Rate limit exceeded: at most ${context.max} ${group ?? ""} requests a minute for this ${request.apiKey ? "API key" : "address"}; retry in ${context.after}`.replace(
          /\s+/g,
          " ",
        ),
        { budget: group, limit: context.max },
      );
    },
  });
}
