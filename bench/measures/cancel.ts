/**
 * 6. Cancel latency: how soon a run stops once `POST /api/runs/:id/cancel` is accepted, measured
 * through API + worker + Chromium. Each sample is a run of `slowRecording` whose second action
 * waits for content the page adds after 60 s; once its first action's row is written (the run
 * is inside that wait), the run is cancelled, and the sample is `finished_at − cancel_requested_at`
 * as the run's row holds them (the API stamps one, the worker the other, on this machine's clock).
 * The end-to-end test (test/e2e/cancel-and-secrets.test.ts) asserts the behaviour — stopped
 * inside the action, long before it would have ended, `cancelled` — and leaves this figure here.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { slowRecording } from "@conveyor/testing/recordings";
import { startBenchStack, startBenchWorker, statusCounts } from "../lib/conveyor.ts";
import { startFixture } from "../lib/fixture.ts";
import type { Measure } from "../lib/measure.ts";
import { waitFor } from "../lib/processes.ts";
import { compare } from "../lib/results.ts";
import { quantile, summarize } from "../lib/stats.ts";

/** The content the cancelled action waits for appears this long after the page opens. */
const ACTION_MS = 60_000;
/** What the end-to-end test asserted before the figure moved here: stopped within a second. */
const TARGET_MS = 1000;

export const cancelMeasure: Measure = {
  name: "cancel",
  title: "6. Cancel",
  async run(ctx) {
    const perRep = ctx.mode === "smoke" ? 2 : 5;
    const [site, stack] = await Promise.all([startFixture(), startBenchStack("cancel", ctx.redisUrl)]);
    try {
      await startBenchWorker(stack, "bench-cancel", 1);
      ctx.log("cancel: warm-up");
      await stack.waitTerminal(await stack.submit(slowRecording(site.url, 100), 1), 60_000);

      const recording = slowRecording(site.url, ACTION_MS);
      const medians: number[] = [];
      const worst: number[] = [];
      const all: number[] = [];
      const ids: string[] = [];
      for (let rep = 0; rep < ctx.reps; rep++) {
        ctx.log(`cancel: rep ${rep + 1}/${ctx.reps} (${perRep} runs cancelled inside a ${ACTION_MS / 1000} s wait)`);
        const samples: number[] = [];
        for (let i = 0; i < perRep; i++) {
          const [id] = await stack.submit(recording, 1, 1);
          if (!id) throw new Error("no run id");
          ids.push(id);
          // Inside action 2's wait: action 1 (the navigation) has its row.
          await waitFor(
            async () =>
              (await stack.db.query("select 1 from run_actions where run_id = $1 and index = 0", [id])).length > 0
                ? true
                : undefined,
            { timeoutMs: 60_000, intervalMs: 20, what: `run ${id} to be inside its wait` },
          );
          // A little into the wait, as a person cancelling would be.
          await sleep(100);
          const cancel = await stack.request("POST", `/api/runs/${id}/cancel`);
          if (cancel.status !== 202) throw new Error(`cancel ${id}: ${cancel.status} ${JSON.stringify(cancel.body)}`);
          // Far less than the action's 60 s: a run that is not interrupted fails the measure.
          await stack.waitTerminal([id], ACTION_MS / 2);
          const [row] = await stack.db.query<{ status: string; ms: number }>(
            `select status, extract(epoch from (finished_at - cancel_requested_at))::float8 * 1000 as ms
               from runs where id = $1`,
            [id],
          );
          if (row?.status !== "cancelled") throw new Error(`run ${id} ended ${row?.status}, not cancelled`);
          samples.push(Number(row.ms));
        }
        ctx.log(`cancel: ${samples.map((ms) => `${ms.toFixed(0)} ms`).join(", ")}`);
        medians.push(quantile(samples, 0.5));
        worst.push(Math.max(...samples));
        all.push(...samples);
      }
      return {
        params: {
          runsPerRep: perRep,
          reps: ctx.reps,
          concurrency: 1,
          recording: `navigate /slow, wait for content due after ${ACTION_MS / 1000} s; cancelled once inside the wait`,
        },
        rows: [
          {
            metric: "cancel → stopped, median of a rep",
            unit: "ms",
            subject: summarize(medians),
            target: `≤ ${TARGET_MS} ms`,
            pass: quantile(medians, 0.5) <= TARGET_MS,
            note: "finished_at − cancel_requested_at",
          },
          compare({ metric: "cancel → stopped, slowest of a rep", unit: "ms", subject: summarize(worst) }),
        ],
        details: { samplesMs: all, statuses: await statusCounts(stack, ids) },
      };
    } finally {
      await stack.stop();
      await site.stop().catch(() => undefined);
    }
  },
};
