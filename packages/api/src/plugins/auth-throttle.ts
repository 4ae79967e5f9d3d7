import type { Logger } from "@conveyor/core";
import type { Redis } from "ioredis";

/**
 * Failed authentication, counted per client address in Redis (so every API replica sees the same
 * count): past half the limit each further failure is answered more slowly, and past the limit
 * the address is refused (`429 auth_throttled`) for `lockoutMs`, whatever it sends. Logged once
 * per lockout, not once per attempt. While Redis cannot answer, the throttle steps aside (fails
 * open, with a warning at most every 10 s): authentication itself must keep working, as the rest of
 * the request path does without Redis (a run is still accepted and enqueued later).
 */
export interface AuthThrottleOptions {
  redis: Redis;
  /** Redis key prefix (QUEUE_PREFIX). */
  prefix: string;
  /** Failures one address may make within `windowMs` before it is locked out. Default 20. */
  limit: number;
  /** Window the failures are counted in, ms. Default 60000. */
  windowMs: number;
  /** How long a locked-out address is refused, ms. Default 300000. */
  lockoutMs: number;
  logger: Logger;
  /** Waits before answering a failure (tests pass a recorder). Default: a timer. */
  sleep?: (ms: number) => Promise<void>;
}

/** Longest slow-down of one failed attempt, ms. */
const MAX_DELAY_MS = 2000;

export class AuthThrottle {
  readonly #options: AuthThrottleOptions;
  #lastWarning = 0;

  constructor(options: AuthThrottleOptions) {
    this.#options = options;
  }

  /**
   * `call`'s answer, or `fallback` when Redis fails (warned about at most every 10 s). While the
   * connection is down it is not even tried: a queued command would hold the request for as long
   * as the client keeps retrying.
   */
  async #orElse<T>(fallback: T, call: () => Promise<T>): Promise<T> {
    try {
      if (this.#options.redis.status !== "ready") throw new Error(`Redis connection is ${this.#options.redis.status}`);
      return await call();
    } catch (error) {
      if (Date.now() - this.#lastWarning > 10_000) {
        this.#lastWarning = Date.now();
        this.#options.logger.warn({ err: error }, "failed-authentication throttle unavailable (Redis); not throttling");
      }
      return fallback;
    }
  }

  #failKey(address: string): string {
    return `${this.#options.prefix}:auth:failures:${address}`;
  }

  #lockKey(address: string): string {
    return `${this.#options.prefix}:auth:lockout:${address}`;
  }

  /** Milliseconds `address` stays locked out, or 0 when it may try. */
  async lockedFor(address: string): Promise<number> {
    return this.#orElse(0, async () => Math.max(await this.#options.redis.pttl(this.#lockKey(address)), 0));
  }

  /**
   * Counts a failure of `address`; resolves after the slow-down it has earned. Returns how long
   * the address is now locked out (0: not locked).
   */
  async fail(address: string): Promise<number> {
    return this.#orElse(0, () => this.#count(address));
  }

  async #count(address: string): Promise<number> {
    const { redis, limit, windowMs, lockoutMs } = this.#options;
    const key = this.#failKey(address);
    const [[, countRaw] = [], [, ttlRaw] = []] = (await redis.multi().incr(key).pttl(key).exec()) ?? [];
    const count = Number(countRaw ?? 0);
    if (Number(ttlRaw ?? -1) < 0) await redis.pexpire(key, windowMs);
    if (count > limit) {
      // SET NX: the first replica to see the limit passed starts the lockout, and logs it once.
      const started = await redis.set(this.#lockKey(address), "1", "PX", lockoutMs, "NX");
      if (started === "OK") {
        this.#options.logger.warn(
          { clientAddress: address, failures: count, windowMs, lockoutMs },
          "too many failed authentication attempts: the address is refused for a while",
        );
      }
      return lockoutMs;
    }
    const half = Math.floor(limit / 2);
    if (count > half) {
      const delay = Math.min(MAX_DELAY_MS, 100 * (count - half));
      await (this.#options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))))(delay);
    }
    return 0;
  }
}
