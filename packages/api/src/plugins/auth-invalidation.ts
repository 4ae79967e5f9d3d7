import type { Logger } from "@conveyor/core";
import type { Redis } from "ioredis";

/** Redis channel on which API replicas tell each other what to forget (message: `key:<hash>` or `project:<id>`). */
export function authInvalidationChannel(prefix: string): string {
  return `${prefix}:auth:invalidate`;
}

/**
 * What every API replica must forget at once: a revoked or rotated key (so revocation is effective
 * everywhere within a moment, not after the cache TTL), or a project whose settings changed.
 */
export class AuthInvalidation {
  #subscriber: Redis | undefined;

  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly logger: Logger;
  private readonly handlers: { key(keyHash: string): void; project(projectId: string): void };
  constructor(
    redis: Redis,
    prefix: string,
    logger: Logger,
    handlers: { key(keyHash: string): void; project(projectId: string): void },
  ) {
    this.redis = redis;
    this.prefix = prefix;
    this.logger = logger;
    this.handlers = handlers;
  }

  async start(): Promise<void> {
    const subscriber = this.redis.duplicate();
    this.#subscriber = subscriber;
    subscriber.on("error", (error) => this.logger.warn({ err: error }, "auth invalidation subscription error"));
    subscriber.on("message", (_channel: string, message: string) => {
      const colon = message.indexOf(":");
      const kind = message.slice(0, colon);
      const value = message.slice(colon + 1);
      if (kind === "key") this.handlers.key(value);
      else if (kind === "project") this.handlers.project(value);
    });
    await subscriber.subscribe(authInvalidationChannel(this.prefix));
  }

  /** Tells every replica (this one included) to forget a key. */
  async key(keyHash: string): Promise<void> {
    this.handlers.key(keyHash);
    await this.#publish(`key:${keyHash}`);
  }

  /** Tells every replica (this one included) to forget what it remembers of a project. */
  async project(projectId: string): Promise<void> {
    this.handlers.project(projectId);
    await this.#publish(`project:${projectId}`);
  }

  /**
   * Best effort: the change is already in Postgres, so without Redis the other replicas still
   * learn it when their cached entry expires (API_KEY_CACHE_TTL_MS).
   */
  async #publish(message: string): Promise<void> {
    try {
      if (this.redis.status !== "ready") throw new Error(`Redis connection is ${this.redis.status}`);
      await this.redis.publish(authInvalidationChannel(this.prefix), message);
    } catch (error) {
      this.logger.warn(
        { err: error },
        "could not tell other API replicas to forget a key or project (Redis); they will within the cache TTL",
      );
    }
  }

  close(): void {
    this.#subscriber?.disconnect();
  }
}
