/** A Conveyor stack for benchmarks, plus the few things every measure does with it. */
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { createStack, onCleanup, type Proc, type Stack } from "./processes.ts";

export interface BenchStack extends Stack {
  apiKey: string;
  /** Submits `count` runs of `recording`, `parallel` requests at a time; returns their ids. */
  submit(recording: unknown, count: number, parallel?: number): Promise<string[]>;
  /** Waits until none of `ids` is queued or running (polling Postgres). */
  waitTerminal(ids: readonly string[], timeoutMs?: number): Promise<void>;
  /** Deletes every Redis key of this stack's prefix. */
  clearQueue(): Promise<void>;
}

/**
 * Starts a database, a Redis prefix and the API; workers are started by the measure. Registered
 * for cleanup, so processes, database and keys go away even when the measure throws.
 */
export async function startBenchStack(label: string, redisUrl: string): Promise<BenchStack> {
  const stack = await createStack(`bench_${label}`);
  const unregister = onCleanup(`stack ${label}`, () => stack.stop());
  const redis = new Redis(redisUrl);
  const stop = stack.stop.bind(stack);
  const bench = stack as BenchStack;
  bench.stop = async () => {
    unregister();
    redis.disconnect();
    await stop();
  };
  // Default LOG_LEVEL (info), as in production: the API logs every request. Admission stays on the
  // request path (rate limiter, queue-cap lock) with budgets no measure reaches: the benchmarks
  // measure throughput, not the limits.
  await stack.startApi({
    RATE_LIMIT_SUBMIT_PER_MIN: "1000000",
    RATE_LIMIT_READ_PER_MIN: "1000000",
    PROJECT_MAX_QUEUED_RUNS: "10000000",
  });
  bench.apiKey = await stack.createProject("bench");
  bench.submit = async (recording, count, parallel = 8) => {
    const ids: string[] = [];
    let next = 0;
    const workers = Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        next += 1;
        const response = await stack.request("POST", "/api/runs", { recording });
        if (response.status !== 202)
          throw new Error(`POST /api/runs: ${response.status} ${JSON.stringify(response.body)}`);
        ids.push(response.body.id);
      }
    });
    await Promise.all(workers);
    return ids;
  };
  bench.waitTerminal = async (ids, timeoutMs = 300_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const [row] = await stack.db.query<{ open: string }>(
        "select count(*)::text as open from runs where id = any($1) and status in ('queued', 'running')",
        [ids],
      );
      if (Number(row?.open ?? 1) === 0) return;
      await sleep(100);
    }
    throw new Error(`runs still unfinished after ${timeoutMs} ms`);
  };
  bench.clearQueue = async () => {
    let cursor = "0";
    do {
      const [nextCursor, keys] = await redis.scan(cursor, "MATCH", `${stack.prefix}:*`, "COUNT", 1000);
      cursor = nextCursor;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== "0");
  };
  return bench;
}

/** Starts a worker and stops it when the measure is done with it (SIGKILL: we do not time shutdown). */
export async function startBenchWorker(stack: Stack, name: string, concurrency: number): Promise<Proc> {
  const worker = await stack.startWorker(name, {
    WORKER_CONCURRENCY: String(concurrency),
    CHROMIUM_PATH: "/usr/bin/chromium",
  });
  onCleanup(`worker ${name}`, () => worker.kill("SIGKILL"));
  return worker;
}

export async function stopWorker(worker: Proc): Promise<void> {
  worker.kill("SIGKILL");
  await worker.exited;
}

/** Status counts of runs, to check a drain ended as expected. */
export async function statusCounts(stack: Stack, ids: readonly string[]): Promise<Record<string, number>> {
  const rows = await stack.db.query<{ status: string; n: string }>(
    "select status, count(*)::text as n from runs where id = any($1) group by status",
    [ids],
  );
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}
