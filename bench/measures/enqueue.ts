/**
 * 1. Enqueue throughput and latency at 50 connections: POST /api/runs (auth, validation, run +
 * event rows in a transaction, Idempotency-Key, BullMQ add) vs a bare Fastify route doing one
 * INSERT and one add on the same Postgres and Redis. No workers run: the queue just fills, and is
 * emptied between repetitions.
 */

import { startBenchStack } from "../lib/conveyor.ts";
import { type LoadResult, load } from "../lib/load.ts";
import type { Measure } from "../lib/measure.ts";
import { cpuSeconds, freePort, onCleanup, startProcess } from "../lib/processes.ts";
import { loginRecording } from "../lib/recordings.ts";
import { compare } from "../lib/results.ts";
import { summarize } from "../lib/stats.ts";

const CONNECTIONS = 50;

export const enqueueMeasure: Measure = {
  name: "enqueue",
  title: "1. Enqueue",
  async run(ctx) {
    const duration = ctx.mode === "smoke" ? 1 : 10;
    const stack = await startBenchStack("enqueue", ctx.redisUrl);
    try {
      const port = await freePort();
      const baseline = startProcess("baseline", "bench/lib/baseline-server.ts", {
        DATABASE_URL: stack.db.url,
        REDIS_URL: ctx.redisUrl,
        QUEUE_PREFIX: `${stack.prefix}:baseline`,
        PORT: String(port),
      });
      onCleanup("baseline server", () => baseline.kill("SIGKILL"));
      await baseline.waitForOutput(/baseline listening/);

      const body = JSON.stringify({ recording: loginRecording("http://127.0.0.1:9/") });
      const conveyorLoad = (seconds: number) =>
        load({
          url: `${stack.apiUrl}/api/runs`,
          method: "POST",
          connections: CONNECTIONS,
          duration: seconds,
          headers: {
            "content-type": "application/json",
            authorization: `Bearer ${stack.apiKey}`,
            "idempotency-key": "bench-[<id>]",
          },
          body,
        });
      const baselineLoad = (seconds: number) =>
        load({
          url: `http://127.0.0.1:${port}/baseline/runs`,
          method: "POST",
          connections: CONNECTIONS,
          duration: seconds,
          headers: { "content-type": "application/json" },
          body,
        });

      // Postgres transactions per request: a cheap profile of database round trips.
      const commits = async () => {
        const [row] = await stack.db.query<{ n: string }>(
          "select xact_commit::text as n from pg_stat_database where datname = current_database()",
        );
        return Number(row?.n ?? 0);
      };

      // CPU per request, by process: the profile that says where a gap comes from. The server is
      // the API or the baseline process; Postgres and Redis are every backend of the machine's
      // servers (nothing else uses them during the measure).
      const apiPid = stack.api?.child.pid ?? -1;
      const baselinePid = baseline.child.pid ?? -1;
      const cpu = () => ({
        api: cpuSeconds((pid) => pid === apiPid),
        baseline: cpuSeconds((pid) => pid === baselinePid),
        postgres: cpuSeconds((_pid, comm) => comm === "postgres"),
        redis: cpuSeconds((_pid, comm) => comm === "redis-server"),
      });
      type CpuSide = { server: number[]; postgres: number[]; redis: number[] };
      const cpuPerRequest: Record<"conveyor" | "baseline", CpuSide> = {
        conveyor: { server: [], postgres: [], redis: [] },
        baseline: { server: [], postgres: [], redis: [] },
      };

      // Warm-up: long enough for both servers to reach steady state (JIT-compiled hot paths, heap
      // sized for the load); with 1 s, the first repetition of whichever ran first was the slowest.
      ctx.log("enqueue: warm-up");
      const warmUp = ctx.mode === "smoke" ? 1 : 3;
      await conveyorLoad(warmUp);
      await baselineLoad(warmUp);
      await stack.clearQueue();

      const conveyor: LoadResult[] = [];
      const bare: LoadResult[] = [];
      const txPerRequest: { conveyor: number[]; baseline: number[] } = { conveyor: [], baseline: [] };
      for (let rep = 0; rep < ctx.reps; rep++) {
        // Alternate who goes first, so a noisy neighbour does not always hit the same side.
        const order = rep % 2 === 0 ? (["conveyor", "baseline"] as const) : (["baseline", "conveyor"] as const);
        for (const side of order) {
          ctx.log(`enqueue: rep ${rep + 1}/${ctx.reps} ${side}`);
          const before = await commits();
          const cpuBefore = cpu();
          const result = side === "conveyor" ? await conveyorLoad(duration) : await baselineLoad(duration);
          const cpuAfter = cpu();
          const perRequestUs = (seconds: number) => (seconds * 1e6) / Math.max(1, result.total);
          cpuPerRequest[side].server.push(
            perRequestUs(side === "conveyor" ? cpuAfter.api - cpuBefore.api : cpuAfter.baseline - cpuBefore.baseline),
          );
          cpuPerRequest[side].postgres.push(perRequestUs(cpuAfter.postgres - cpuBefore.postgres));
          cpuPerRequest[side].redis.push(perRequestUs(cpuAfter.redis - cpuBefore.redis));
          // pg_stat_database is updated when backends report: give them a moment.
          await new Promise((r) => setTimeout(r, ctx.mode === "smoke" ? 300 : 1500));
          const after = await commits();
          (side === "conveyor" ? conveyor : bare).push(result);
          txPerRequest[side].push((after - before) / Math.max(1, result.total));
          await stack.clearQueue();
        }
      }
      const errors = [...conveyor, ...bare].reduce((s, r) => s + r.non2xx + r.errors, 0);
      return {
        params: { connections: CONNECTIONS, durationSeconds: duration, reps: ctx.reps, workers: 0 },
        rows: [
          compare(
            {
              metric: "throughput",
              unit: "req/s",
              subject: summarize(conveyor.map((r) => r.requestsPerSec)),
              baseline: summarize(bare.map((r) => r.requestsPerSec)),
              baselineLabel: "bare Fastify INSERT + add",
              target: "≥ 0.8× baseline",
              ...(errors ? { note: `${errors} non-2xx/errors` } : {}),
            },
            { factor: 0.8, higherIsBetter: true },
          ),
          compare(
            {
              metric: "p50 latency",
              unit: "ms",
              subject: summarize(conveyor.map((r) => r.p50Ms)),
              baseline: summarize(bare.map((r) => r.p50Ms)),
              baselineLabel: "bare",
            },
            undefined,
          ),
          compare(
            {
              metric: "p99 latency",
              unit: "ms",
              subject: summarize(conveyor.map((r) => r.p99Ms)),
              baseline: summarize(bare.map((r) => r.p99Ms)),
              baselineLabel: "bare",
              target: "≤ 2× baseline",
            },
            { factor: 2, higherIsBetter: false },
          ),
          ...(["server", "postgres", "redis"] as const).map((part) =>
            compare({
              metric: `CPU per request: ${part === "server" ? "API process (baseline: its process)" : part === "postgres" ? "Postgres backends" : "Redis"}`,
              unit: "µs",
              subject: summarize(cpuPerRequest.conveyor[part]),
              baseline: summarize(cpuPerRequest.baseline[part]),
              baselineLabel: "bare",
            }),
          ),
          compare({
            metric: "Postgres commits per request",
            unit: "tx",
            subject: summarize(txPerRequest.conveyor),
            baseline: summarize(txPerRequest.baseline),
            baselineLabel: "bare",
          }),
        ],
        details: { conveyor, baseline: bare, cpuPerRequestUs: cpuPerRequest },
      };
    } finally {
      await stack.stop();
    }
  },
};
