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

/** What the queue needs of a run to give it a job. */
export interface QueuedRunRef {
  id: string;
  projectId: string;
  priority: number;
  /** The run's own attempts (a suite's `retries` + 1); default: the queue's policy. */
  maxAttempts?: number;
}

/** The API's side of the runs queue: enqueue, deliver, withdraw, count. */
export interface RunQueue {
  /** Adds the run's job; resolves once Redis has it, rejects when Redis refuses it. */
  enqueue(run: QueuedRunRef): Promise<void>;
  /**
   * Adds the run's job without making the caller wait for Redis: for a run already committed
   * `queued`, whose delivery the reconciler guarantees whatever happens here. The add starts at
   * once (batched with concurrent ones); a failure is passed to `onError` (the run stays queued
   * and a worker's reconciler enqueues it). Resolves at once, unless `maxPendingDeliveries`
   * adds are already waiting for Redis: then it resolves when this one is settled (back-pressure,
   * so a slow Redis slows submissions down rather than piling jobs up in memory).
   */
  deliver(run: QueuedRunRef, onError: (error: unknown) => void): Promise<void>;
  /** Waits until every delivery started so far has settled (added or failed). */
  settle(): Promise<void>;
  /**
   * Removes a job that has not started; false when it is active or gone. A delivery of the same
   * run still under way in this process is waited for first, so it cannot add the job afterwards.
   */
  withdraw(runId: string): Promise<boolean>;
  /** Jobs by state, read from Redis now. */
  counts(now?: Date): Promise<QueueCounts>;
  /** Waits for the deliveries under way (at most `closeTimeoutMs`), then closes the queue. */
  close(): Promise<void>;
}

/** Options of {@link createRunQueue}. */
export interface RunQueueOptions {
  /** Key prefix of the queue's Redis keys (QUEUE_PREFIX). */
  prefix: string;
  /** Attempts and backoff of run jobs (the job catalog's policy). */
  policy: RunJobPolicy;
  /**
   * Deliveries (`deliver`) that may wait for Redis at once before a new one makes its caller
   * wait too. Bounds the memory a stalled Redis can make the API hold. Default 1024.
   */
  maxPendingDeliveries?: number;
  /**
   * How long `close` waits for deliveries still under way, ms; what is left is the reconciler's
   * to deliver. Default 5000.
   */
  closeTimeoutMs?: number;
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

export function createRunQueue(connection: Redis, options: RunQueueOptions): RunQueue & { queue: Queue } {
  const queue = new Queue(RUNS_QUEUE, { connection, prefix: options.prefix });
  // Concurrent requests' jobs go out together (see Batcher): at enqueue rates, one `addBulk` per
  // burst instead of one `add` per run. A failed batch fails each of its enqueues, as `add` would.
  const adds = new Batcher<QueuedRunRef, true>({
    ...ENQUEUE_BATCHING,
    flush: async (runs) => {
      // Validated here and again by the worker on pickup (the job catalog's contract).
      const jobs = runs.map((run) =>
        buildJob(
          "run",
          { runId: run.id, projectId: run.projectId },
          {
            priority: run.priority,
            policy: run.maxAttempts === undefined ? options.policy : { ...options.policy, attempts: run.maxAttempts },
          },
        ),
      );
      await enqueueBuilt(queue, jobs);
      return runs.map(() => true as const);
    },
  });
  const maxPending = options.maxPendingDeliveries ?? 1024;
  const closeTimeoutMs = options.closeTimeoutMs ?? 5_000;
  // Deliveries under way, by run id; each promise settles (never rejects) when Redis answers.
  const pending = new Map<string, Promise<void>>();
  const settle = async () => {
    while (pending.size > 0) await Promise.all([...pending.values()]);
  };
  return {
    queue,
    async enqueue(run) {
      await adds.submit(run);
    },
    deliver(run, onError) {
      const delivery = adds.submit(run).then(
        () => undefined,
        (error: unknown) => onError(error),
      );
      const tracked = delivery.finally(() => {
        if (pending.get(run.id) === tracked) pending.delete(run.id);
      });
      pending.set(run.id, tracked);
      return pending.size > maxPending ? tracked : Promise.resolve();
    },
    settle,
    async withdraw(runId) {
      await pending.get(runId);
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
    async close() {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([settle(), new Promise((resolve) => (timer = setTimeout(resolve, closeTimeoutMs)))]);
      clearTimeout(timer);
      await queue.close();
    },
  };
}
