/**
 * `pnpm bench` / `pnpm bench:smoke`: starts what each measure needs, runs it, writes
 * bench/results/<name>.json and the table of docs/benchmarks.md, and stops everything it started.
 *
 *   node --import tsx bench/run.ts [--smoke] [--only <name>[,<name>…]]
 *
 * Smoke mode (1 repetition, tiny N) checks the harness still runs: it prints the table and writes
 * its JSON to a temporary directory, leaving the committed results alone. Both modes exit 0 when a
 * target is missed (the table marks it) and 1 only when the harness itself fails.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPostgresDb } from "@conveyor/db";
import { DEFAULT_TEST_DATABASE_URL } from "@conveyor/db/testing";
import { Redis } from "ioredis";
import { generatedBlock, resultsTable, updateDoc } from "./lib/markdown.ts";
import type { BenchContext, Measure } from "./lib/measure.ts";
import { ROOT, runCleanups, writeProcessOutputTo } from "./lib/processes.ts";
import { type MeasureResult, machineInfo, writeResult } from "./lib/results.ts";
import { browserMeasure } from "./measures/browser.ts";
import { cancelMeasure } from "./measures/cancel.ts";
import { enqueueMeasure } from "./measures/enqueue.ts";
import { growthMeasure } from "./measures/growth.ts";
import { memoryMeasure } from "./measures/memory.ts";
import { pipelineMeasure } from "./measures/pipeline.ts";
import { recoveryMeasure } from "./measures/recovery.ts";

const MEASURES: readonly Measure[] = [
  enqueueMeasure,
  pipelineMeasure,
  browserMeasure,
  memoryMeasure,
  growthMeasure,
  cancelMeasure,
  recoveryMeasure,
];

function parseArgs(argv: readonly string[]): { smoke: boolean; only: string[] | null } {
  let smoke = false;
  let only: string[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--smoke") smoke = true;
    else if (arg === "--only") {
      const value = argv[++i];
      if (!value) throw new Error("--only needs a measure name");
      only = value.split(",");
    } else if (arg?.startsWith("--only=")) only = arg.slice("--only=".length).split(",");
    else throw new Error(`unknown argument ${arg}; usage: bench/run.ts [--smoke] [--only <name>]`);
  }
  const unknown = (only ?? []).filter((name) => !MEASURES.some((m) => m.name === name));
  if (unknown.length) {
    throw new Error(`unknown measure ${unknown.join(", ")}; known: ${MEASURES.map((m) => m.name).join(", ")}`);
  }
  return { smoke, only };
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
  const started = Date.now();
  const ctx: BenchContext = {
    mode: args.smoke ? "smoke" : "full",
    reps: args.smoke ? 1 : 3,
    redisUrl,
    log: (message) => console.error(`[bench +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}`),
  };

  const admin = await createPostgresDb({ url: process.env.TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL });
  const redis = new Redis(redisUrl);
  const machine = await machineInfo({
    root: ROOT,
    postgresVersion: async () => (await admin.query<{ v: string }>("select version() as v"))[0]?.v ?? "unknown",
    redisVersion: async () => /redis_version:(\S+)/.exec(await redis.info("server"))?.[1] ?? "unknown",
  });
  await admin.close();
  redis.disconnect();

  // Processes log to files, as under a container runtime, not into this process (which runs the
  // load generator): the API's access log would otherwise cost the client CPU on every request.
  const logDir = mkdtempSync(join(tmpdir(), "conveyor-bench-logs-"));
  writeProcessOutputTo(logDir);
  ctx.log(`process logs: ${logDir}`);

  const resultsDir = args.smoke ? mkdtempSync(join(tmpdir(), "conveyor-bench-smoke-")) : join(ROOT, "bench/results");
  const results: MeasureResult[] = [];
  let failed = false;
  for (const measure of MEASURES) {
    if (args.only && !args.only.includes(measure.name)) continue;
    const t0 = Date.now();
    ctx.log(`${measure.name}: start (${ctx.mode})`);
    try {
      const output = await measure.run(ctx);
      const result: MeasureResult = {
        name: measure.name,
        title: measure.title,
        mode: ctx.mode,
        ...output,
        startedAt: new Date(t0).toISOString(),
        durationMs: Date.now() - t0,
        machine,
      };
      results.push(result);
      ctx.log(
        `${measure.name}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s → ${writeResult(resultsDir, result)}`,
      );
    } catch (error) {
      failed = true;
      console.error(`${measure.name} failed:`, error);
    } finally {
      await runCleanups();
    }
  }

  console.log(`\n${resultsTable(results)}\n`);
  if (!args.smoke && !args.only) {
    const doc = join(ROOT, "docs/benchmarks.md");
    updateDoc(doc, generatedBlock(results, new Date()));
    // Aligned as the linter (biome, which formats Markdown) wants it, so `pnpm lint` stays green.
    execFileSync(join(ROOT, "node_modules/.bin/biome"), ["format", "--write", doc], { stdio: "ignore" });
    ctx.log("docs/benchmarks.md updated");
  } else if (!args.smoke) {
    ctx.log("--only: docs/benchmarks.md left alone (it shows a full run)");
  }
  ctx.log(`finished in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (failed) ctx.log(`kept the process logs for the failure: ${logDir}`);
  else rmSync(logDir, { recursive: true, force: true });
  return failed ? 1 : 0;
}

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    if (stopping) process.exit(130);
    stopping = true;
    console.error(`\n${signal}: stopping everything the benchmark started…`);
    void runCleanups().finally(() => process.exit(130));
  });
}

main()
  .then((code) => {
    process.exitCode = code;
  })
  .catch(async (error) => {
    console.error(error);
    await runCleanups();
    process.exitCode = 1;
  });
