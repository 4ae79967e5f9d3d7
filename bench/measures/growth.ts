/**
 * 5. Growth: enqueue rate and GET /api/runs p99 with 0, 10k and 100k runs stored (bulk-inserted
 * with generate_series), and Redis memory per queued run: jobs added with the API's job options,
 * measured, then drained by a noop worker to see what the retention settings leave behind.
 */
import { buildJob, enqueueBuilt, RUNS_QUEUE } from "@conveyor/core";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { type BenchStack, startBenchStack } from "../lib/conveyor.ts";
import { load } from "../lib/load.ts";
import type { Measure } from "../lib/measure.ts";
import { onCleanup } from "../lib/processes.ts";
import { loginRecording } from "../lib/recordings.ts";
import { compare, type Row } from "../lib/results.ts";
import { summarize } from "../lib/stats.ts";

async function insertRuns(stack: BenchStack, projectId: string, from: number, to: number): Promise<void> {
  const recording = JSON.stringify(loginRecording("http://127.0.0.1:9"));
  await stack.db.query(
    `insert into runs (id, project_id, status, priority, attempt, max_attempts, timeout_ms, action_timeout_ms,
                       recording, actions_total, actions_passed, started_at, finished_at, duration_ms, created_at, updated_at)
     select 'run_bench' || lpad(g::text, 17, '0'), $1,
            (array['passed','passed','passed','failed','errored'])[1 + g % 5], 5, 1, 3, 300000, 15000,
            $2::jsonb, 6, 6, t, t + interval '1 second', 1000, t, t
       from generate_series($3::int, $4::int) g,
            lateral (select now() - interval '30 days' + g * interval '10 milliseconds' as t) ts`,
    [projectId, recording, from, to],
  );
  await stack.db.query("analyze runs");
}

async function sumKeyMemory(redis: Redis, pattern: string): Promise<{ bytes: number; keys: number }> {
  let cursor = "0";
  let bytes = 0;
  let keys = 0;
  do {
    const [next, batch] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    for (const key of batch) {
      bytes += Number((await redis.call("MEMORY", "USAGE", key, "SAMPLES", "0")) ?? 0);
      keys += 1;
    }
  } while (cursor !== "0");
  return { bytes, keys };
}

async function usedMemory(redis: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await redis.info("memory"))?.[1] ?? Number.NaN);
}

/** Bytes per queued job, and what is left after a noop worker drained them all. */
async function redisPerJob(redisUrl: string, prefix: string, jobs: number) {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(RUNS_QUEUE, { connection: redis, prefix });
  let worker: Worker | undefined;
  const unregister = onCleanup("redis-per-job", async () => {
    await worker?.close(true);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    redis.disconnect();
    workerConnection.disconnect();
  });
  try {
    const policy = { attempts: 3, backoffMs: 1000 };
    const usedBefore = await usedMemory(redis);
    for (let i = 0; i < jobs; i += 500) {
      await enqueueBuilt(
        queue,
        Array.from({ length: Math.min(500, jobs - i) }, (_, k) =>
          buildJob(
            "run",
            { runId: `run_bench${String(i + k).padStart(17, "0")}`, projectId: "prj_bench" },
            {
              priority: 5,
              policy,
            },
          ),
        ),
      );
    }
    const queued = await sumKeyMemory(redis, `${prefix}:*`);
    const usedQueued = await usedMemory(redis);
    let done = 0;
    await new Promise<void>((resolve) => {
      worker = new Worker(RUNS_QUEUE, async () => {}, { connection: workerConnection, prefix, concurrency: 20 });
      worker.on("completed", () => {
        done += 1;
        if (done === jobs) resolve();
      });
    });
    await worker?.close();
    const counts = await queue.getJobCounts("completed", "failed", "waiting", "prioritized");
    const drained = await sumKeyMemory(redis, `${prefix}:*`);
    return {
      jobs,
      keyBytesPerQueuedJob: queued.bytes / jobs,
      usedMemoryDeltaPerQueuedJob: (usedQueued - usedBefore) / jobs,
      keysQueued: queued.keys,
      afterDrain: { keyBytes: drained.bytes, keys: drained.keys, counts },
    };
  } finally {
    unregister();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    redis.disconnect();
    workerConnection.disconnect();
  }
}

export const growthMeasure: Measure = {
  name: "growth",
  title: "5. Growth",
  async run(ctx) {
    const levels = ctx.mode === "smoke" ? [0, 500] : [0, 10_000, 100_000];
    const duration = ctx.mode === "smoke" ? 1 : 5;
    const jobs = ctx.mode === "smoke" ? 1_200 : 5_000;
    const stack = await startBenchStack("growth", ctx.redisUrl);
    try {
      const [project] = await stack.db.query<{ id: string }>("select id from projects limit 1");
      if (!project) throw new Error("no project");
      const body = JSON.stringify({ recording: loginRecording("http://127.0.0.1:9/") });
      const auth = { authorization: `Bearer ${stack.apiKey}` };
      const perLevel: {
        stored: number;
        enqueueRps: number[];
        enqueueP99: number[];
        listP99: number[];
        listRps: number[];
      }[] = [];
      let inserted = 0;
      for (const stored of levels) {
        if (stored > inserted) {
          ctx.log(`growth: inserting runs ${inserted} → ${stored}`);
          await insertRuns(stack, project.id, inserted + 1, stored);
          inserted = stored;
        }
        const level = {
          stored,
          enqueueRps: [] as number[],
          enqueueP99: [] as number[],
          listP99: [] as number[],
          listRps: [] as number[],
        };
        for (let rep = 0; rep < ctx.reps; rep++) {
          ctx.log(`growth: ${stored} stored, rep ${rep + 1}/${ctx.reps}`);
          const enqueue = await load({
            url: `${stack.apiUrl}/api/runs`,
            method: "POST",
            connections: 50,
            duration,
            headers: { "content-type": "application/json", ...auth, "idempotency-key": "bench-[<id>]" },
            body,
          });
          await stack.clearQueue();
          const list = await load({ url: `${stack.apiUrl}/api/runs`, connections: 10, duration, headers: auth });
          level.enqueueRps.push(enqueue.requestsPerSec);
          level.enqueueP99.push(enqueue.p99Ms);
          level.listP99.push(list.p99Ms);
          level.listRps.push(list.requestsPerSec);
        }
        perLevel.push(level);
      }
      ctx.log(`growth: Redis memory of ${jobs} queued jobs`);
      const redis = await redisPerJob(ctx.redisUrl, `${stack.prefix}:mem`, jobs);
      const base = perLevel[0];
      const rows: Row[] = [];
      for (const level of perLevel.slice(1)) {
        const label = `${level.stored / 1000}k stored`;
        rows.push(
          compare({
            metric: `enqueue rate, ${label}`,
            unit: "req/s",
            subject: summarize(level.enqueueRps),
            ...(base ? { baseline: summarize(base.enqueueRps), baselineLabel: "empty table" } : {}),
          }),
          compare({
            metric: `GET /api/runs p99, ${label}`,
            unit: "ms",
            subject: summarize(level.listP99),
            ...(base ? { baseline: summarize(base.listP99), baselineLabel: "empty table" } : {}),
          }),
        );
      }
      const bounded = (redis.afterDrain.counts.completed ?? 0) <= 1000;
      rows.push(
        compare({
          metric: "Redis per queued run",
          unit: "bytes",
          subject: summarize([redis.keyBytesPerQueuedJob]),
          note: `used_memory Δ ${redis.usedMemoryDeltaPerQueuedJob.toFixed(0)} B/job; after draining ${jobs}: ${redis.afterDrain.counts.completed} completed jobs kept (${(redis.afterDrain.keyBytes / 1024).toFixed(0)} KiB) — ${bounded ? "bounded by removeOnComplete count 1000" : "NOT bounded"}`,
        }),
      );
      return {
        params: {
          storedLevels: levels,
          durationSeconds: duration,
          enqueueConnections: 50,
          listConnections: 10,
          reps: ctx.reps,
          redisJobs: jobs,
        },
        rows,
        details: { perLevel, redis },
      };
    } finally {
      await stack.stop();
    }
  },
};
