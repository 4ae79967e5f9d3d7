import { jobIdForRun, RUNS_QUEUE, type RunJobPolicy, runJobOptions, runJobPayloadSchema } from "@conveyor/core";
import { Queue } from "bullmq";
import type { Redis } from "ioredis";

/** The API's side of the runs queue: enqueue and withdraw. */
export interface RunQueue {
  enqueue(run: { id: string; projectId: string; priority: number }): Promise<void>;
  /** Removes a job that has not started; false when it is active or gone. */
  withdraw(runId: string): Promise<boolean>;
  close(): Promise<void>;
}

export function createRunQueue(
  connection: Redis,
  options: { prefix: string; policy: RunJobPolicy },
): RunQueue & { queue: Queue } {
  const queue = new Queue(RUNS_QUEUE, { connection, prefix: options.prefix });
  return {
    queue,
    async enqueue(run) {
      // Validated here and again by the worker on pickup (the job catalog's contract).
      const payload = runJobPayloadSchema.parse({ runId: run.id, projectId: run.projectId });
      await queue.add("run", payload, runJobOptions(run.id, run.priority, options.policy));
    },
    async withdraw(runId) {
      const removed = await queue.remove(jobIdForRun(runId));
      return removed === 1;
    },
    close: () => queue.close(),
  };
}
