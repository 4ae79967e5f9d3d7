import type { ArtifactStore } from "@conveyor/artifacts";
import { artifactSweepLeaseKey, type Logger } from "@conveyor/core";
import type { Redis } from "ioredis";

/**
 * Retention: deletes artifacts older than ARTIFACT_RETENTION_DAYS. Every worker runs a sweeper,
 * but each period only one sweeps: it must first take a lease in Redis that lives as long as the
 * period, so the installation sweeps about once per period however many workers run (with a
 * local store that means the directory must be shared, as the API needs it to be anyway).
 */
export interface ArtifactSweeperOptions {
  store: ArtifactStore;
  connection: Redis;
  /** QUEUE_PREFIX: the lease is `<prefix>:artifacts:sweeper`. */
  prefix: string;
  logger: Logger;
  /** This worker's name, stored in the lease. */
  name: string;
  /** Artifacts older than this are deleted, days; 0 disables the sweeper. */
  retentionDays: number;
  /** Time between two sweeps of the installation, ms. Default 86400000 (a day). */
  periodMs?: number;
  /** How often this worker checks whether a sweep is due, ms. Default 3600000 (an hour). */
  checkIntervalMs?: number;
  /** Delay from start to this worker's first check, ms. Default 60000. */
  firstCheckMs?: number;
}

const DAY_MS = 86_400_000;

export class ArtifactSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private readonly abort = new AbortController();

  private readonly options: ArtifactSweeperOptions;
  constructor(options: ArtifactSweeperOptions) {
    this.options = options;
  }

  start(): void {
    if (this.options.retentionDays <= 0) return;
    const tick = () => {
      if (this.abort.signal.aborted) return;
      this.running = this.pass()
        .catch((error: unknown) => {
          if (!this.abort.signal.aborted) this.options.logger.warn({ err: error }, "artifact sweep failed");
        })
        .finally(() => {
          this.running = undefined;
          if (!this.abort.signal.aborted) this.timer = setTimeout(tick, this.options.checkIntervalMs ?? 3_600_000);
        });
    };
    this.timer = setTimeout(tick, this.options.firstCheckMs ?? 60_000);
  }

  /** Stops the timer and aborts a sweep in progress (it resumes at the next period). */
  async stop(): Promise<void> {
    this.abort.abort(new Error("worker shutting down"));
    clearTimeout(this.timer);
    await this.running;
  }

  /**
   * Sweeps if no one has this period; returns how many artifacts it deleted, or null when the
   * sweep was not this worker's to do.
   */
  async pass(now: Date = new Date()): Promise<number | null> {
    const { connection, prefix, name, store, logger, retentionDays } = this.options;
    if (retentionDays <= 0) return null;
    const lease = artifactSweepLeaseKey(prefix);
    const periodMs = this.options.periodMs ?? DAY_MS;
    if ((await connection.set(lease, name, "PX", periodMs, "NX")) !== "OK") return null;
    const olderThan = new Date(now.getTime() - retentionDays * DAY_MS);
    const started = performance.now();
    try {
      const deleted = await store.sweep(olderThan, { signal: this.abort.signal });
      logger.info(
        { deleted, olderThan: olderThan.toISOString(), durationMs: Math.round(performance.now() - started) },
        "artifact sweep done",
      );
      return deleted;
    } catch (error) {
      // Let the next check (of any worker) try again rather than wait a whole period.
      if ((await connection.get(lease)) === name) await connection.del(lease);
      throw error;
    }
  }
}
