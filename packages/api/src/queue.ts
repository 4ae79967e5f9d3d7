import { Batcher, buildJob, enqueueBuilt, jobIdForRun, RUNS_QUEUE, type RunJobPolicy } from "@conveyor/core";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";

/** Jobs of the runs queue by state, and the backlog the fleet should be sized for. */
export interface QueueCounts {
  waiting: number;
  prioritized: number;
  /** Delayed jobs, due or not (retries waiting out their backoff). */
  delayed: number;
  active: number;
  /** Finished jobs BullMQ still keeps (an hour; Postgres keeps the history). */
  completed: number;
  failed: number;
  /**
   * Jobs a worker could start now: waiting + prioritized + delayed jobs already due. A retry in
   * its backoff counts once it is due. This is what autoscaling follows (conveyor_queue_backlog).
   */
  backlog: number;
}

/** The API's side of the runs queue: enqueue, withdraw, count. */
export interface RunQueue {
  enqueue(run: { id: string; projectId: string; priority: number }): Promise<void>;
  /** Removes a job that has not started; false when it is active or gone. */
  withdraw(runId: string): Promise<boolean>;
  /** Jobs by state, read from Redis now. */
  counts(now?: Date): Promise<QueueCounts>;
  close(): Promise<void>;
}

/**
 * BullMQ scores a delayed job `timestamp × 0x1000 + n` (n orders jobs due the same ms); every
 * score up to this one is due at `now`.
 */
function lastDueDelayedScore(now: Date): number {
  return (now.getTime() + 1) * 0x1000 - 1;
}

/**
 * How concurrent enqueues are grouped: one Redis write in flight at a time, carrying every job
 * that arrived meanwhile (up to `maxBatch`) as one `addBulk` pipeline; a lone job goes out at once
 * with a plain `add` (an ioredis pipeline costs more to build than one job is worth). A Redis
 * round trip is well under a millisecond, so waiting for the one in flight costs little, and it
 * makes the batches large enough to pay off.
 */
export const ENQUEUE_BATCHING = { maxBatch: 64, maxInFlight: 1 } as const;

export function createRunQueue(
  connection: Redis,
  options: { prefix: string; policy: RunJobPolicy },
): RunQueue & { queue: Queue } {
  const queue = new Queue(RUNS_QUEUE, { connection, prefix: options.prefix });
  // Concurrent requests' jobs go out together (see Batcher): at enqueue rates, one `addBulk` per
  // burst instead of one `add` per run. A failed batch fails each of its enqueues, as `add` would.
  const adds = new Batcher<{ id: string; projectId: string; priority: number }, true>({
    ...ENQUEUE_BATCHING,
    flush: async (runs) => {
      // Validated here and again by the worker on pickup (the job catalog's contract).
      const jobs = runs.map((run) =>
        buildJob(
          "run",
          { runId: run.id, projectId: run.projectId },
          { priority: run.priority, policy: options.policy },
        ),
      );
      await enqueueBuilt(queue, jobs);
      return runs.map(() => true as const);
    },
  });
  return {
    queue,
    async enqueue(run) {
      await adds.submit(run);
    },
    async withdraw(runId) {
      const removed = await queue.remove(jobIdForRun(runId));
      return removed === 1;
    },
    async counts(now = new Date()) {
      const [counts, dueDelayed] = await Promise.all([
        queue.getJobCounts("waiting", "prioritized", "delayed", "active", "completed", "failed"),
        // Jobs wait in `delayed` until a worker promotes them, so with no worker running a due
        // retry would stay invisible: count it from the delayed set by score.
        connection.zcount(queue.toKey("delayed"), "-inf", lastDueDelayedScore(now)),
      ]);
      const waiting = counts.waiting ?? 0;
      const prioritized = counts.prioritized ?? 0;
      return {
        waiting,
        prioritized,
        delayed: counts.delayed ?? 0,
        active: counts.active ?? 0,
        completed: counts.completed ?? 0,
        failed: counts.failed ?? 0,
        backlog: waiting + prioritized + dueDelayed,
      };
    },
    close: () => queue.close(),
  };
}
