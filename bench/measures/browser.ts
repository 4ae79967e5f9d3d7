/**
 * 3. Browser throughput: N login-flow runs end to end through API + worker, vs (a) a raw
 * playwright-core loop (one browser, a new context per run, same concurrency) and (b) Playwright
 * Test running the flow as N tests with as many workers. (b) is timed as a user runs it: the
 * whole `playwright test` command, worker processes and browser launches included; Conveyor's
 * worker and (a)'s browser are already running (that is how each is used).
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { startBenchStack, startBenchWorker, statusCounts } from "../lib/conveyor.ts";
import { startFixture } from "../lib/fixture.ts";
import type { Measure } from "../lib/measure.ts";
import { onCleanup, ROOT } from "../lib/processes.ts";
import { launchRaw, rawLoop } from "../lib/raw-playwright.ts";
import { loginRecording } from "../lib/recordings.ts";
import { compare } from "../lib/results.ts";
import { summarize } from "../lib/stats.ts";
import { drainRate, runBreakdown } from "../lib/timing.ts";

const CONCURRENCY = 2;

/**
 * Repetitions of the Conveyor vs raw-loop pair: more than the other measures' 3, because a rep
 * lasts ~15 s of Chromium work whose speed drifts on a shared machine by more than the gap being
 * measured (docs/benchmarks.md). Playwright Test, whose margin is wide, runs `reps` times.
 */
function browserReps(mode: "full" | "smoke", reps: number): number {
  return mode === "smoke" ? reps : Math.max(reps, 5);
}

/** A second between phases, for the previous phase's processes and contexts to wind down. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 1000));

async function playwrightTest(siteUrl: string, n: number): Promise<number> {
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [
      join(ROOT, "node_modules/@playwright/test/cli.js"),
      "test",
      "-c",
      join(ROOT, "bench/playwright/playwright.config.ts"),
    ],
    {
      cwd: ROOT,
      env: { ...process.env, BENCH_SITE_URL: siteUrl, BENCH_N: String(n), BENCH_WORKERS: String(CONCURRENCY) },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const unregister = onCleanup("playwright test", () => {
    child.kill("SIGKILL");
  });
  let output = "";
  child.stdout.on("data", (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    output += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  unregister();
  if (code !== 0) throw new Error(`playwright test exited ${code}:\n${output.slice(-3000)}`);
  return n / ((performance.now() - started) / 1000);
}

export const browserMeasure: Measure = {
  name: "browser",
  title: "3. Browser",
  async run(ctx) {
    const n = ctx.mode === "smoke" ? 2 : 16;
    const [site, stack] = await Promise.all([startFixture(), startBenchStack("browser", ctx.redisUrl)]);
    const browser = await launchRaw();
    onCleanup("raw browser", () => browser.close());
    try {
      const recording = loginRecording(site.url);
      await startBenchWorker(stack, "bench-browser", CONCURRENCY);
      ctx.log("browser: warm-up");
      await stack.waitTerminal(await stack.submit(recording, 2));
      await rawLoop(browser, site.url, 2, CONCURRENCY);

      const conveyor: number[] = [];
      const raw: number[] = [];
      const pwt: number[] = [];
      const statuses: Record<string, number>[] = [];
      const breakdowns: Record<string, number>[] = [];
      const runConveyor = async (label: string) => {
        ctx.log(`browser: ${label} conveyor (${n} runs)`);
        const ids = await stack.submit(recording, n);
        await stack.waitTerminal(ids);
        conveyor.push((await drainRate(stack, ids)).runsPerSec);
        statuses.push(await statusCounts(stack, ids));
        breakdowns.push(await runBreakdown(stack, ids));
        ctx.log(`browser: ${JSON.stringify(statuses.at(-1))} ${JSON.stringify(breakdowns.at(-1))}`);
      };
      const runRaw = async (label: string) => {
        ctx.log(`browser: ${label} raw playwright-core`);
        raw.push(await rawLoop(browser, site.url, n, CONCURRENCY));
      };
      const reps = browserReps(ctx.mode, ctx.reps);
      for (let rep = 0; rep < reps; rep++) {
        const label = `rep ${rep + 1}/${reps}`;
        // Playwright Test first: its worker processes and browsers are gone before the pair that
        // is compared most closely runs. That pair alternates who goes first, so a drift of the
        // machine (a noisy neighbour, a slow minute) does not always land on the same side.
        if (rep < ctx.reps) {
          ctx.log(`browser: ${label} Playwright Test`);
          pwt.push(await playwrightTest(site.url, n));
          await settle();
        }
        if (rep % 2 === 0) {
          await runConveyor(label);
          await settle();
          await runRaw(label);
        } else {
          await runRaw(label);
          await settle();
          await runConveyor(label);
        }
        await settle();
      }
      const subject = summarize(conveyor);
      return {
        params: {
          n,
          concurrency: CONCURRENCY,
          reps: browserReps(ctx.mode, ctx.reps),
          playwrightTestReps: ctx.reps,
          flow: "goto /login, 2 fills, click, url + text checks",
        },
        rows: [
          compare(
            {
              metric: "throughput vs raw loop",
              unit: "runs/s",
              subject,
              baseline: summarize(raw),
              baselineLabel: "raw playwright-core",
              target: "≥ 0.9× raw",
            },
            { factor: 0.9, higherIsBetter: true },
          ),
          compare(
            {
              metric: "throughput vs Playwright Test",
              unit: "runs/s",
              subject,
              baseline: summarize(pwt),
              baselineLabel: "Playwright Test, whole command",
              target: "≥ 1.3× PW Test",
            },
            { factor: 1.3, higherIsBetter: true },
          ),
        ],
        details: { statuses, breakdownsMs: breakdowns },
      };
    } finally {
      await browser.close().catch(() => undefined);
      await stack.stop();
      await site.stop().catch(() => undefined);
    }
  },
};
