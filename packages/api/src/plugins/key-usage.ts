import type { Logger } from "@conveyor/core";
import { type Db, recordApiKeyUse } from "@conveyor/db";

/**
 * When each API key was last used, kept in memory and written in one statement every
 * `flushIntervalMs` (and on close): `lastUsedAt` costs a busy key one write per interval, not one
 * per request.
 */
export class KeyUsage {
  #pending = new Map<string, Date>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  private readonly db: Db;
  private readonly logger: Logger;
  private readonly flushIntervalMs;
  private readonly now: () => Date;
  constructor(
    db: Db,
    logger: Logger,
    /** How often uses are written, ms. Default 10000. */
    flushIntervalMs = 10_000,
    now: () => Date = () => new Date(),
  ) {
    this.db = db;
    this.logger = logger;
    this.flushIntervalMs = flushIntervalMs;
    this.now = now;
  }

  start(): void {
    this.#timer = setInterval(() => void this.flush(), this.flushIntervalMs);
    this.#timer.unref();
  }

  record(keyId: string): void {
    this.#pending.set(keyId, this.now());
  }

  /** Writes what was recorded since the last flush; a failed write is logged and retried next time. */
  flush(): Promise<void> {
    this.#flushing = this.#flushing.then(async () => {
      if (this.#pending.size === 0) return;
      const batch = this.#pending;
      this.#pending = new Map();
      try {
        await recordApiKeyUse(
          this.db,
          [...batch].map(([keyId, usedAt]) => ({ keyId, usedAt })),
        );
      } catch (error) {
        for (const [keyId, usedAt] of batch) if (!this.#pending.has(keyId)) this.#pending.set(keyId, usedAt);
        this.logger.warn({ err: error, keys: batch.size }, "could not record API key use; will retry");
      }
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
  }
}
