/**
 * The live side of the event streams: one poller per API process reads the run events every
 * worker and API replica writes to Postgres (`run_events`, ids in insert order), and hands each to
 * the streams open on this process. Postgres is both the log and the bus: nothing is published
 * anywhere, so an event written by any process reaches a client connected to any replica within
 * `pollMs`, and a stream that reconnects reads what it missed from the same table.
 *
 * Ids are assigned at insert, but transactions commit in their own order: an id may appear after
 * a higher one. The feed never skips such an id: its cursor stays below the lowest id not yet seen
 * until that id shows up, or `gapWaitMs` has passed (an id of a rolled-back insert never does).
 *
 * It polls only while some stream listens.
 */
import type { Logger } from "@conveyor/core";
import { type DbHandle, lastRunEventId, runEventsAfter, type StreamedRunEvent } from "@conveyor/db";

export type FeedListener = (event: StreamedRunEvent) => void;

export interface EventFeedOptions {
  db: DbHandle;
  logger: Logger;
  /** Time between two reads, ms. Default 200. */
  pollMs?: number;
  /** How long a missing id is waited for before the cursor passes it, ms. Default 3000. */
  gapWaitMs?: number;
  /** Rows per read. Default 1000. */
  batchSize?: number;
}

export class EventFeed {
  private readonly options: EventFeedOptions;
  private readonly listeners = new Set<FeedListener>();
  /** Every id up to here is delivered or given up on. */
  private cursor = 0;
  /** Delivered ids above the cursor. */
  private readonly seen = new Set<number>();
  /** Ids found missing between delivered ones, and since when. */
  private readonly gaps = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private starting: Promise<void> | undefined;
  private stopped = false;

  constructor(options: EventFeedOptions) {
    this.options = options;
  }

  /**
   * Adds a listener; resolves once the feed is reading (events committed from then on reach it).
   * Returns the function that removes it.
   */
  async subscribe(listener: FeedListener): Promise<() => void> {
    this.listeners.add(listener);
    if (!this.starting) this.starting = this.begin();
    await this.starting;
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.pause();
    };
  }

  /** Streams open on this process. */
  get size(): number {
    return this.listeners.size;
  }

  private async begin(): Promise<void> {
    this.cursor = await lastRunEventId(this.options.db.db);
    this.seen.clear();
    this.gaps.clear();
    this.schedule();
  }

  private pause(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.starting = undefined;
  }

  private schedule(): void {
    if (this.stopped || this.listeners.size === 0) return;
    this.timer = setTimeout(() => {
      this.poll()
        .catch((error: unknown) => this.options.logger.warn({ err: error }, "event feed read failed"))
        .finally(() => {
          if (this.starting) this.schedule();
        });
    }, this.options.pollMs ?? 200);
  }

  /** One read: delivers the new events in id order, then moves the cursor as far as it may. */
  async poll(now: number = Date.now()): Promise<number> {
    const rows = await runEventsAfter(this.options.db.db, this.cursor, this.options.batchSize ?? 1000);
    let delivered = 0;
    for (const row of rows) {
      if (row.id <= this.cursor || this.seen.has(row.id)) continue;
      this.seen.add(row.id);
      this.gaps.delete(row.id);
      delivered += 1;
      for (const listener of this.listeners) {
        try {
          listener(row);
        } catch (error) {
          this.options.logger.warn({ err: error }, "event stream listener failed");
        }
      }
    }
    let highest = this.cursor;
    for (const id of this.seen) highest = Math.max(highest, id);
    // Every id missing below the highest seen starts waiting now (at most one batch of them).
    for (let id = this.cursor + 1; id < highest && id - this.cursor <= 10_000; id++) {
      if (!this.seen.has(id) && !this.gaps.has(id)) this.gaps.set(id, now);
    }
    const gapWaitMs = this.options.gapWaitMs ?? 3000;
    while (this.cursor < highest) {
      const next = this.cursor + 1;
      if (this.seen.delete(next)) {
        this.cursor = next;
        continue;
      }
      if (now - (this.gaps.get(next) ?? now) < gapWaitMs) break;
      this.gaps.delete(next);
      this.cursor = next;
    }
    return delivered;
  }

  stop(): void {
    this.stopped = true;
    this.pause();
    this.listeners.clear();
  }
}
