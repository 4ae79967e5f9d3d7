import { Redis } from "ioredis";
import { redactUrl } from "./env.ts";
import type { Logger } from "./logger.ts";

/**
 * Connection helpers shared by every process. The one piece of I/O in core: both the API and
 * the worker must fail the same clear way when Redis is missing.
 */

export class RedisUnavailableError extends Error {
  constructor(url: string, cause: unknown) {
    super(
      `Cannot reach Redis at ${redactUrl(url)} (REDIS_URL): ${(cause as Error)?.message ?? cause}. ` +
        "Start Redis (e.g. `redis-server`, or `docker run -p 6379:6379 redis:7`) or set REDIS_URL to a reachable server.",
      { cause },
    );
    this.name = "RedisUnavailableError";
  }
}

export interface RedisConnectOptions {
  /** redis:// or rediss:// URL. */
  url: string;
  /**
   * For BullMQ workers: `null` retries commands forever across reconnects (required by BullMQ
   * for blocking connections). For request paths: a small number so callers fail fast. Default null.
   */
  maxRetriesPerRequest?: number | null;
  /** How long the first connection may take, ms. Default 5000. */
  connectTimeoutMs?: number;
}

/** Connects and pings once; throws {@link RedisUnavailableError} naming REDIS_URL on failure. */
export async function connectRedis(options: RedisConnectOptions): Promise<Redis> {
  const redis = new Redis(options.url, {
    maxRetriesPerRequest: options.maxRetriesPerRequest ?? null,
    lazyConnect: true,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    enableOfflineQueue: true,
  });
  redis.on("error", () => {
    // Reconnects are automatic; failures surface through commands and readiness checks.
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new RedisUnavailableError(options.url, error);
  }
  return redis;
}

/** Logs a loud warning when Redis may evict keys: BullMQ loses jobs under any policy but noeviction. */
export async function checkRedisEvictionPolicy(redis: Redis, logger: Logger): Promise<string | undefined> {
  try {
    const reply = (await redis.config("GET", "maxmemory-policy")) as string[];
    const policy = reply[1];
    if (policy && policy !== "noeviction") {
      logger.warn(
        { maxmemoryPolicy: policy },
        `Redis maxmemory-policy is "${policy}": under memory pressure Redis will delete queued jobs. Set maxmemory-policy noeviction.`,
      );
    }
    return policy;
  } catch {
    return undefined; // CONFIG may be disabled on managed Redis; nothing to check then
  }
}
