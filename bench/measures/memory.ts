/**
 * 4. Memory: the worker process and its Chromium (the whole process tree, from /proc) at
 * concurrency 1, 2, 4 under sustained load (a backlog of login runs), sampled every 250 ms.
 * Repetitions are successive load bursts on the same worker (the first, untimed, warms it).
 */
import { startBenchStack, startBenchWorker, stopWorker } from "../lib/conveyor.ts";
import { startFixture } from "../lib/fixture.ts";
import type { Measure } from "../lib/measure.ts";
import { treeMemory } from "../lib/processes.ts";
import { loginRecording } from "../lib/recordings.ts";
import { compare, type Row } from "../lib/results.ts";
import { median, slope, summarize } from "../lib/stats.ts";

const MIB = 2 ** 20;

export const memoryMeasure: Measure = {
  name: "memory",
  title: "4. Memory",
  async run(ctx) {
    const levels = ctx.mode === "smoke" ? [1, 2] : [1, 2, 4];
    const runsPerSlot = ctx.mode === "smoke" ? 1 : 3;
    const [site, stack] = await Promise.all([startFixture(), startBenchStack("memory", ctx.redisUrl)]);
    try {
      const recording = loginRecording(site.url);
      const perLevel: { concurrency: number; rss: number[]; pss: number[]; peakRss: number[]; processes: number }[] =
        [];
      for (const concurrency of levels) {
        const worker = await startBenchWorker(stack, `bench-mem-${concurrency}`, concurrency);
        const pid = worker.child.pid;
        if (pid === undefined) throw new Error("worker has no pid");
        await stack.waitTerminal(await stack.submit(recording, ctx.mode === "smoke" ? concurrency : concurrency * 2));
        const level = { concurrency, rss: [] as number[], pss: [] as number[], peakRss: [] as number[], processes: 0 };
        for (let rep = 0; rep < ctx.reps; rep++) {
          ctx.log(`memory: concurrency ${concurrency}, burst ${rep + 1}/${ctx.reps}`);
          const ids = await stack.submit(recording, concurrency * runsPerSlot);
          const samples: { rss: number; pss: number; processes: number }[] = [];
          const sampling = (async () => {
            for (;;) {
              const [row] = await stack.db.query<{ open: string }>(
                "select count(*)::text as open from runs where id = any($1) and status in ('queued', 'running')",
                [ids],
              );
              if (Number(row?.open ?? 0) === 0) return;
              samples.push(treeMemory(pid));
              await new Promise((r) => setTimeout(r, 250));
            }
          })();
          await sampling;
          level.rss.push(median(samples.map((s) => s.rss)) / MIB);
          level.pss.push(median(samples.map((s) => s.pss)) / MIB);
          level.peakRss.push(Math.max(...samples.map((s) => s.rss)) / MIB);
          level.processes = Math.max(level.processes, ...samples.map((s) => s.processes));
        }
        perLevel.push(level);
        await stopWorker(worker);
      }
      const rssSlope = slope(perLevel.map((l) => ({ x: l.concurrency, y: median(l.rss) })));
      const pssSlope = slope(perLevel.map((l) => ({ x: l.concurrency, y: median(l.pss) })));
      const rows: Row[] = perLevel.map((l) =>
        compare({
          metric: `worker tree RSS, concurrency ${l.concurrency}`,
          unit: "MiB",
          subject: summarize(l.rss),
          note: `PSS ${median(l.pss).toFixed(0)} MiB, peak RSS ${median(l.peakRss).toFixed(0)} MiB, ${l.processes} processes`,
        }),
      );
      rows.push(
        compare({
          metric: "increment per concurrent run (slope)",
          unit: "MiB",
          subject: summarize([rssSlope]),
          note: `RSS sum; PSS slope ${pssSlope.toFixed(1)} MiB`,
        }),
      );
      return {
        params: { concurrencies: levels, runsPerBurst: `${runsPerSlot} × concurrency`, reps: ctx.reps, sampleMs: 250 },
        rows,
        details: { perLevel, rssSlopeMiB: rssSlope, pssSlopeMiB: pssSlope },
      };
    } finally {
      await stack.stop();
      await site.stop().catch(() => undefined);
    }
  },
};
