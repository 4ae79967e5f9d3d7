/**
 * 2. Pipeline overhead: N runs of an empty-ish recording (one assertion on about:blank) through
 * API → queue → worker → terminal status in Postgres, vs a raw BullMQ noop Worker at the same
 * concurrency. Then enqueue → start latency with idle workers, one run at a time.
 *
 * The runner opens a browser context and a page for every run whatever its actions, so the
 * Conveyor side includes one context creation per run; the noop side includes none.
 */
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import { startBenchStack, startBenchWorker, statusCounts } from "../lib/conveyor.ts";
import type { Measure } from "../lib/measure.ts";
import { onCleanup } from "../lib/processes.ts";
import { emptyishRecording } from "../lib/recordings.ts";
import { compare } from "../lib/results.ts";
import { median, summarize } from "../lib/stats.ts";
import { drainRate, runBreakdown, startLatencies } from "../lib/timing.ts";

const CONCURRENCY = 2;

/** N jobs through a noop BullMQ worker: adds in parallel (like the API would), returns jobs/s. */
async function noopDrain(redisUrl: string, prefix: string, n: number): Promise<number> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue("noop", { connection, prefix });
  let done = 0;
  let resolveDone: () => void = () => {};
  const allDone = new Promise<void>((resolve) => {
    resolveDone = resolve;
  });
  const worker = new Worker("noop", async () => {}, { connection: workerConnection, prefix, concurrency: CONCURRENCY });
  worker.on("completed", () => {
    done += 1;
    if (done === n) resolveDone();
  });
  const unregister = onCleanup("noop worker", async () => {
    await worker.close(true);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    connection.disconnect();
    workerConnection.disconnect();
  });
  try {
    await worker.waitUntilReady();
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < n) {
          next += 1;
          await queue.add("run", { runId: `noop-${next}`, projectId: "bench" }, { removeOnComplete: 1000 });
        }
      }),
    );
    await allDone;
    return n / ((performance.now() - started) / 1000);
  } finally {
    unregister();
    await worker.close();
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close();
    connection.disconnect();
    workerConnection.disconnect();
  }
}

export const pipelineMeasure: Measure = {
  name: "pipeline",
  title: "2. Pipeline",
  async run(ctx) {
    const n = ctx.mode === "smoke" ? 4 : 40;
    const latencyRuns = ctx.mode === "smoke" ? 3 : 20;
    const stack = await startBenchStack("pipeline", ctx.redisUrl);
    try {
      await startBenchWorker(stack, "bench-pipeline", CONCURRENCY);
      ctx.log("pipeline: warm-up");
      await stack.waitTerminal(await stack.submit(emptyishRecording, ctx.mode === "smoke" ? 1 : 4));

      const conveyor: number[] = [];
      const noop: number[] = [];
      const statuses: Record<string, number>[] = [];
      const breakdowns: Record<string, number>[] = [];
      for (let rep = 0; rep < ctx.reps; rep++) {
        ctx.log(`pipeline: rep ${rep + 1}/${ctx.reps} conveyor (${n} runs)`);
        const ids = await stack.submit(emptyishRecording, n);
        await stack.waitTerminal(ids);
        conveyor.push((await drainRate(stack, ids)).runsPerSec);
        statuses.push(await statusCounts(stack, ids));
        breakdowns.push(await runBreakdown(stack, ids));
        ctx.log(`pipeline: ${JSON.stringify(breakdowns.at(-1))}`);
        ctx.log(`pipeline: rep ${rep + 1}/${ctx.reps} noop BullMQ worker (${n} jobs)`);
        noop.push(await noopDrain(ctx.redisUrl, `${stack.prefix}:noop`, n));
      }

      ctx.log(`pipeline: enqueue → start latency, ${latencyRuns} runs one at a time, idle worker`);
      const latencyIds: string[] = [];
      const p50s: number[] = [];
      const p99s: number[] = [];
      for (let rep = 0; rep < ctx.reps; rep++) {
        const ids: string[] = [];
        for (let i = 0; i < latencyRuns; i++) {
          const [id] = await stack.submit(emptyishRecording, 1, 1);
          if (!id) throw new Error("no run id");
          await stack.waitTerminal([id]);
          ids.push(id);
          // Idle between runs: the worker is blocked on Redis, waiting, when the next one arrives.
          await new Promise((r) => setTimeout(r, 50));
        }
        const latency = await startLatencies(stack, ids);
        p50s.push(latency.p50);
        p99s.push(latency.p99);
        latencyIds.push(...ids);
      }
      const all = (await startLatencies(stack, latencyIds)).all;
      return {
        params: {
          n,
          concurrency: CONCURRENCY,
          latencyRunsPerRep: latencyRuns,
          reps: ctx.reps,
          recording: "assert urlContains about:blank",
        },
        rows: [
          compare({
            metric: "drain rate",
            unit: "runs/s",
            subject: summarize(conveyor),
            baseline: summarize(noop),
            baselineLabel: "noop BullMQ Worker",
            note: "one browser context per run",
          }),
          {
            metric: "enqueue → start p50",
            unit: "ms",
            subject: summarize(p50s),
            target: "≤ 20 ms",
            pass: median(p50s) <= 20,
          },
          compare({ metric: "enqueue → start p99", unit: "ms", subject: summarize(p99s) }),
        ],
        details: { statuses, breakdownsMs: breakdowns, latencyMsAll: all },
      };
    } finally {
      await stack.stop();
    }
  },
};
