import {
  classifyWorker,
  decodeHeartbeat,
  type WorkerHealth,
  type WorkerHealthStatus,
  workerKey,
  workersIndexKey,
} from "@conveyor/core";
import type { Redis } from "ioredis";

/**
 * Reads every worker's heartbeat from Redis and judges it (rules: core/workers.ts). A name whose
 * hash has expired (its worker stopped beating 10 intervals ago) is dropped from the index here,
 * since nothing else would: the worker that wrote it is gone.
 */
export async function readWorkers(redis: Redis, prefix: string, now: Date = new Date()): Promise<WorkerHealth[]> {
  const names = await redis.zrange(workersIndexKey(prefix), "0", "-1");
  if (names.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const name of names) pipeline.hgetall(workerKey(prefix, name));
  const replies = (await pipeline.exec()) ?? [];
  const workers: WorkerHealth[] = [];
  const gone: string[] = [];
  names.forEach((name, index) => {
    const [error, fields] = replies[index] ?? [null, {}];
    if (error) throw error;
    const heartbeat = decodeHeartbeat(fields as Record<string, string>);
    if (heartbeat) workers.push(classifyWorker(heartbeat, now));
    else gone.push(name);
  });
  if (gone.length > 0) await redis.zrem(workersIndexKey(prefix), ...gone);
  return workers.sort((a, b) => a.name.localeCompare(b.name));
}

/** Workers per status, every status present (0 when none). */
export function countWorkers(workers: Pick<WorkerHealth, "status">[]): Record<WorkerHealthStatus, number> {
  const counts: Record<WorkerHealthStatus, number> = { healthy: 0, degraded: 0, unhealthy: 0 };
  for (const worker of workers) counts[worker.status] += 1;
  return counts;
}
