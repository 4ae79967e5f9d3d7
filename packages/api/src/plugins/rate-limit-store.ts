import { Batcher } from "@conveyor/core";
import type { FastifyRateLimitOptions, FastifyRateLimitStore, FastifyRateLimitStoreCtor } from "@fastify/rate-limit";
import type { Redis } from "ioredis";

/**
 * Counts `n` requests on one fixed-window counter at once: what `n` calls of @fastify/rate-limit's
 * own Redis script (INCR, PEXPIRE on the first request of a window, else PTTL) would do, in one
 * command. Returns the count after the `n` requests and the window's remaining ms. A counter left
 * without an expiry (written by hand) gets the window again rather than counting forever.
 */
const COUNT_SCRIPT = `
  local current = redis.call('INCRBY', KEYS[1], ARGV[1])
  local ttl = -1
  if current ~= tonumber(ARGV[1]) then ttl = redis.call('PTTL', KEYS[1]) end
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    ttl = tonumber(ARGV[2])
  end
  return {current, ttl}
`;

interface CountRequest {
  /** The counter's full Redis key. */
  key: string;
  /** The window, ms: the counter's expiry when this request opens it. */
  windowMs: number;
}

interface Count {
  current: number;
  ttl: number;
}

type CountingRedis = Redis & {
  conveyorRateLimitCount(key: string, n: number, windowMs: number): Promise<[number, number]>;
};

/**
 * How concurrent rate-limit checks are grouped: one Redis round trip in flight at a time carrying
 * every check that arrived meanwhile, with one command per counter (a burst from one API key is one
 * `INCRBY` of the burst's size). A lone check goes out at once. The counts are exact: the requests
 * of a batch get consecutive counts, as if each had incremented the counter in turn.
 */
export const RATE_LIMIT_BATCHING = { maxBatch: 256, maxInFlight: 1 } as const;

/**
 * Counts requests on Redis counters, batched (see RATE_LIMIT_BATCHING). Exported for tests; the
 * API uses it through {@link batchedRedisStore}.
 */
export class RateLimitCounter {
  readonly #batcher: Batcher<CountRequest, Count>;

  constructor(redis: Redis) {
    const counting = redis as CountingRedis;
    if (typeof counting.conveyorRateLimitCount !== "function") {
      redis.defineCommand("conveyorRateLimitCount", { numberOfKeys: 1, lua: COUNT_SCRIPT });
    }
    this.#batcher = new Batcher<CountRequest, Count>({
      ...RATE_LIMIT_BATCHING,
      flush: async (requests) => {
        // Requests per counter, in arrival order: the first of them gets the lowest count.
        const byKey = new Map<string, number[]>();
        requests.forEach((request, i) => {
          const list = byKey.get(request.key);
          if (list) list.push(i);
          else byKey.set(request.key, [i]);
        });
        // One command per counter, sent at once, not as an ioredis pipeline: a pipeline costs more
        // to build than a command, and a batch is nearly always one key's burst.
        const results: Array<Count | Error> = new Array(requests.length);
        await Promise.all(
          [...byKey].map(async ([key, indexes]) => {
            const windowMs = (requests[indexes[0] as number] as CountRequest).windowMs;
            try {
              const [total, ttl] = await counting.conveyorRateLimitCount(key, indexes.length, windowMs);
              const first = total - indexes.length;
              indexes.forEach((i, position) => {
                results[i] = { current: first + position + 1, ttl };
              });
            } catch (error) {
              for (const i of indexes) results[i] = error instanceof Error ? error : new Error(String(error));
            }
          }),
        );
        return results;
      },
    });
  }

  /** Counts one request on `key`; resolves with the count including it and the window's remaining ms. */
  count(key: string, windowMs: number): Promise<Count> {
    return this.#batcher.submit({ key, windowMs });
  }
}

/** What the plugin passes a store: its options, with the two it does not declare. */
type StoreOptions = FastifyRateLimitOptions & { continueExceeding?: boolean; exponentialBackoff?: boolean };

/**
 * A @fastify/rate-limit store on Redis with the plugin's own key layout
 * (`<nameSpace><METHOD><url>-<key>`, so counters carry over from its RedisStore), whose checks are
 * batched across concurrent requests: at 50 concurrent submissions the per-request Redis command
 * was a tenth of the API's CPU per request, and Redis's own work per request grew with it
 * (docs/benchmarks.md). Fixed windows only: `continueExceeding` and `exponentialBackoff` are
 * refused.
 */
export function batchedRedisStore(redis: Redis, nameSpace: string): FastifyRateLimitStoreCtor {
  const counter = new RateLimitCounter(redis);
  class BatchedRedisStore implements FastifyRateLimitStore {
    readonly prefix: string;
    constructor(options: StoreOptions, prefix = nameSpace) {
      if (options.continueExceeding || options.exponentialBackoff) {
        throw new Error("rate limit store: continueExceeding and exponentialBackoff are not supported");
      }
      this.prefix = prefix;
    }

    incr(
      key: string,
      callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
      timeWindow: number,
    ): void {
      counter.count(this.prefix + key, timeWindow).then(
        (result) => callback(null, result),
        (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
      );
    }

    child(routeOptions: Parameters<FastifyRateLimitStore["child"]>[0]): FastifyRateLimitStore {
      const options = routeOptions as unknown as StoreOptions & { routeInfo: { method: string; url: string } };
      return new BatchedRedisStore(options, `${this.prefix}${options.routeInfo.method}${options.routeInfo.url}-`);
    }
  }
  return BatchedRedisStore;
}
