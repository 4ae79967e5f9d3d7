/**
 * 7. Recovery: how long a backlog takes to settle after a fault, through API + workers + Chromium.
 *
 * - `kill -9 a worker`: two workers (2 runs at a time each) and a backlog of runs; once the victim
 *   holds a run well under way it is SIGKILLed. Measured: from the kill to every run terminal, and
 *   from the kill to the first of its runs started again on the other worker ("taken over").
 * - `Redis flushed`: the same backlog, and once runs are executing every Redis key of the
 *   installation is deleted (the queued jobs with them, as a Redis restarted without persistence
 *   or a FLUSHALL would). Measured: from the flush to every run terminal.
 *
 * "before" runs the same code under the old defaults (stall check every 30 s, reconciler every
 * 15 s with a 60 s grace, no liveness hand-back); "after" under the current defaults. The target,
 * from issue 13: every run terminal within 40 s of the fault.
 */
import { slowRecording } from "@conveyor/testing/recordings";
import { Redis } from "ioredis";
import { type BenchStack, startBenchStack, statusCounts } from "../lib/conveyor.ts";
import { startFixture } from "../lib/fixture.ts";
import type { Measure } from "../lib/measure.ts";
import { onCleanup, type Proc, waitFor } from "../lib/processes.ts";
import { compare, type Row } from "../lib/results.ts";
import { summarize } from "../lib/stats.ts";

/** The defaults before issue 13 (WORKER_DEAD_AFTER_MS at its maximum: liveness never acts). */
const BEFORE: Record<string, string> = {
  WORKER_LOCK_DURATION_MS: "30000",
  WORKER_STALLED_INTERVAL_MS: "30000",
  RECONCILE_INTERVAL_MS: "15000",
  RECONCILE_GRACE_MS: "60000",
  WORKER_DEAD_AFTER_MS: "600000",
};
/** The current defaults. */
const AFTER: Record<string, string> = {};
/** Smoke mode: the same mechanisms with thresholds scaled down, to stay well under a minute. */
const SMOKE: Record<string, string> = {
  WORKER_DEAD_AFTER_MS: "4000",
  RECONCILE_INTERVAL_MS: "1000",
  RECONCILE_GRACE_MS: "3000",
};
const TARGET_MS = 40_000;
const CONCURRENCY = 2;

interface Sample {
  /** Fault → every run terminal, ms. */
  settledMs: number;
  /** Fault → first of the victim's runs started again elsewhere, ms (kill only). */
  takenOverMs?: number;
  statuses: Record<string, number>;
}

let workerSeq = 0;

async function startWorkers(stack: BenchStack, settings: Record<string, string>): Promise<[Proc, Proc]> {
  const start = async () => {
    workerSeq += 1;
    const name = `bench-recovery-${workerSeq}`;
    const worker = await stack.startWorker(name, {
      WORKER_CONCURRENCY: String(CONCURRENCY),
      CHROMIUM_PATH: "/usr/bin/chromium",
      ...settings,
    });
    onCleanup(`worker ${name}`, () => worker.kill("SIGKILL"));
    return worker;
  };
  return Promise.all([start(), start()]);
}

async function stopWorkers(stack: BenchStack, workers: readonly Proc[]): Promise<void> {
  for (const worker of workers) {
    worker.kill("SIGKILL");
    await worker.exited;
  }
  // The next scenario starts with no reconciler lease held by a worker that is gone.
  const redis = new Redis(stack.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  try {
    await redis.del(`${stack.prefix}:runs:reconciler`);
  } finally {
    redis.disconnect();
  }
}

/** Runs of `worker` that are running with their first action row written. */
async function waitForInFlight(stack: BenchStack, worker: string): Promise<void> {
  await waitFor(
    async () => {
      const rows = await stack.db.query(
        `select 1 from runs r where r.status = 'running' and r.worker = $1
            and exists (select 1 from run_actions a where a.run_id = r.id and a.attempt = r.attempt)`,
        [worker],
      );
      return rows.length > 0 ? true : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 50, what: `a run in flight on ${worker}` },
  );
}

async function killScenario(
  stack: BenchStack,
  recording: unknown,
  backlog: number,
  settings: Record<string, string>,
  running?: [Proc, Proc],
) {
  const [victim, survivor] = running ?? (await startWorkers(stack, settings));
  try {
    const ids = await stack.submit(recording, backlog);
    await waitForInFlight(stack, victim.name);
    const killedAt = new Date();
    victim.kill("SIGKILL");
    await victim.exited;
    await stack.waitTerminal(ids, 600_000);
    const settledMs = Date.now() - killedAt.getTime();
    const [takeover] = await stack.db.query<{ ms: number | null }>(
      `select extract(epoch from min(e.created_at) - $2::timestamptz) * 1000 as ms from run_events e
        where e.run_id = any($1) and e.type = 'started' and e.attempt >= 2 and e.worker = $3`,
      [ids, killedAt.toISOString(), survivor.name],
    );
    const sample: Sample = { settledMs, statuses: await statusCounts(stack, ids) };
    if (takeover?.ms != null) sample.takenOverMs = Number(takeover.ms);
    return sample;
  } finally {
    await stopWorkers(stack, [victim, survivor]);
  }
}

async function flushScenario(
  stack: BenchStack,
  recording: unknown,
  backlog: number,
  settings: Record<string, string>,
  options: { keepWorkers?: boolean } = {},
) {
  const workers = await startWorkers(stack, settings);
  try {
    const ids = await stack.submit(recording, backlog);
    await waitForInFlight(stack, workers[0].name);
    const flushedAt = Date.now();
    await stack.clearQueue();
    await stack.waitTerminal(ids, 600_000);
    const sample: Sample = { settledMs: Date.now() - flushedAt, statuses: await statusCounts(stack, ids) };
    return { sample, workers };
  } finally {
    if (!options.keepWorkers) await stopWorkers(stack, workers);
  }
}

export const recoveryMeasure: Measure = {
  name: "recovery",
  title: "7. Recovery",
  async run(ctx) {
    const smoke = ctx.mode === "smoke";
    const backlog = smoke ? 3 : 8;
    const runMs = smoke ? 1000 : 2000;
    const [site, stack] = await Promise.all([startFixture(), startBenchStack("recovery", ctx.redisUrl)]);
    const recording = slowRecording(site.url, runMs);
    const after = smoke ? SMOKE : AFTER;
    const samples: Record<string, Sample[]> = { killAfter: [], flushAfter: [], killBefore: [], flushBefore: [] };
    try {
      if (smoke) {
        // One pair of workers for both scenarios (starting workers is most of the time here):
        // the flush first, then the kill on the same workers.
        ctx.log(`recovery: Redis flushed under ${backlog} runs`);
        const flushed = await flushScenario(stack, recording, backlog, after, { keepWorkers: true });
        samples.flushAfter?.push(flushed.sample);
        ctx.log(`recovery: ${JSON.stringify(flushed.sample)}`);
        ctx.log(`recovery: kill -9 a worker under ${backlog} runs`);
        samples.killAfter?.push(await killScenario(stack, recording, backlog, after, flushed.workers));
        ctx.log(`recovery: ${JSON.stringify(samples.killAfter?.at(-1))}`);
      }
      for (let rep = 0; !smoke && rep < ctx.reps; rep++) {
        ctx.log(`recovery: rep ${rep + 1}/${ctx.reps} kill -9 a worker under ${backlog} runs (after)`);
        samples.killAfter?.push(await killScenario(stack, recording, backlog, after));
        ctx.log(`recovery: ${JSON.stringify(samples.killAfter?.at(-1))}`);
        ctx.log(`recovery: rep ${rep + 1}/${ctx.reps} Redis flushed under ${backlog} runs (after)`);
        samples.flushAfter?.push((await flushScenario(stack, recording, backlog, after)).sample);
        ctx.log(`recovery: ${JSON.stringify(samples.flushAfter?.at(-1))}`);
      }
      if (!smoke) {
        // The old settings take a minute and more per scenario: once is enough to show the gap.
        ctx.log("recovery: kill -9 a worker (before: old settings)");
        samples.killBefore?.push(await killScenario(stack, recording, backlog, BEFORE));
        ctx.log(`recovery: ${JSON.stringify(samples.killBefore?.at(-1))}`);
        ctx.log("recovery: Redis flushed (before: old settings)");
        samples.flushBefore?.push((await flushScenario(stack, recording, backlog, BEFORE)).sample);
        ctx.log(`recovery: ${JSON.stringify(samples.flushBefore?.at(-1))}`);
      }
      const seconds = (list: Sample[] | undefined, pick: (s: Sample) => number | undefined) =>
        summarize(
          (list ?? [])
            .map(pick)
            .filter((v): v is number => v !== undefined)
            .map((ms) => ms / 1000),
        );
      const baseline = (list: Sample[] | undefined, pick: (s: Sample) => number | undefined) =>
        smoke ? {} : { baseline: seconds(list, pick), baselineLabel: "old settings" };
      const within = (list: Sample[] | undefined) =>
        (list ?? []).length > 0 && (list ?? []).every((s) => s.settledMs <= TARGET_MS);
      const rows: Row[] = [
        {
          ...compare({
            metric: "kill -9 a worker → every run terminal",
            unit: "s",
            subject: seconds(samples.killAfter, (s) => s.settledMs),
            ...baseline(samples.killBefore, (s) => s.settledMs),
            note: `${backlog} runs of ${runMs / 1000} s, 2 workers × ${CONCURRENCY}`,
          }),
          target: "≤ 40 s",
          pass: within(samples.killAfter),
        },
        compare({
          metric: "kill -9 a worker → its run started elsewhere",
          unit: "s",
          subject: seconds(samples.killAfter, (s) => s.takenOverMs),
          ...baseline(samples.killBefore, (s) => s.takenOverMs),
        }),
        {
          ...compare({
            metric: "Redis flushed → every run terminal",
            unit: "s",
            subject: seconds(samples.flushAfter, (s) => s.settledMs),
            ...baseline(samples.flushBefore, (s) => s.settledMs),
            note: `${backlog} runs of ${runMs / 1000} s`,
          }),
          target: "≤ 40 s",
          pass: within(samples.flushAfter),
        },
      ];
      return {
        params: {
          backlog,
          runMs,
          concurrency: CONCURRENCY,
          workers: 2,
          reps: ctx.reps,
          after: smoke ? SMOKE : "defaults",
          before: smoke ? "not measured in smoke mode" : BEFORE,
        },
        rows,
        details: { samples },
      };
    } finally {
      await stack.stop();
      await site.stop();
    }
  },
};
