/**
 * Start-up time and memory of the API and worker processes, for docs/benchmarks.md ("Start-up:
 * Node 24 type stripping against tsx"). Not part of `pnpm bench` (each sample is a cold process
 * start, a minute or two in all):
 *
 *   node bench/startup.ts [--node <path>] [--tsx] [--node-arg <flag>]… [--runs <n>]
 *
 * `--node`: the Node binary to measure (default: the one running this script); `--tsx`: load the
 * sources through tsx (`node --import tsx <bin>`, how production ran them up to Node 20) instead
 * of Node's own type stripping (`node <bin>`). With tsx every start gets an empty TMPDIR, so tsx's
 * transform cache is cold, as in a new container. `--node-arg`: a flag for Node itself (e.g.
 * `--max-semi-space-size=16`), repeatable. For each of API and worker it starts the process
 * once (not counted: it warms the file system cache), then `--runs` times (default 5) against its
 * own database and Redis prefix, and prints the medians of:
 * - ready: spawn to the ready log line ("API listening", "worker ready"), ms (wall clock: on a
 *   busy machine it mostly measures the wait for a core);
 * - CPU: user + system CPU time the process used up to then, with tsx's esbuild service process
 *   added, ms (what start-up costs, much less sensitive to other load than the wall clock);
 * - RSS of the Node process when ready, and with tsx's esbuild service process added (Chromium,
 *   which the worker starts whatever runs it, is left out), MiB.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createTestDatabase } from "@conveyor/db/testing";
import { Redis } from "ioredis";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const MIB = 1024 * 1024;

interface Sample {
  readyMs: number;
  cpuMs: number;
  nodeRssMiB: number;
  treeRssMiB: number;
}

function parseArgs(argv: readonly string[]): { node: string; tsx: boolean; nodeArgs: string[]; runs: number } {
  let node = process.execPath;
  let tsx = false;
  const nodeArgs: string[] = [];
  let runs = 5;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--node") node = argv[++i] ?? node;
    else if (arg === "--tsx") tsx = true;
    else if (arg === "--node-arg") nodeArgs.push(argv[++i] ?? "");
    else if (arg === "--runs") runs = Number(argv[++i]);
    else
      throw new Error(
        `unknown argument ${arg}; usage: bench/startup.ts [--node <path>] [--tsx] [--node-arg <flag>] [--runs <n>]`,
      );
  }
  if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs: expected a whole number >= 1");
  return { node, tsx, nodeArgs, runs };
}

/** Resident memory of one process (VmRSS), bytes; 0 once it is gone. */
function rssOf(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

const TICKS_PER_SECOND = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

/** User + system CPU time one process used so far (/proc/<pid>/stat), ms; 0 once it is gone. */
function cpuOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) in parentheses: utime is the 12th.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Descendants of `pid` (pid and command name), from ps. */
function descendants(pid: number): { pid: number; comm: string }[] {
  const rows = execFileSync("ps", ["-e", "-o", "pid=,ppid=,comm="], { encoding: "utf8" })
    .trim()
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .map(([p, pp, comm]) => ({ pid: Number(p), ppid: Number(pp), comm: comm ?? "" }));
  const found: { pid: number; comm: string }[] = [];
  const queue = [pid];
  while (queue.length) {
    const parent = queue.shift();
    for (const row of rows) {
      if (row.ppid === parent) {
        found.push({ pid: row.pid, comm: row.comm });
        queue.push(row.pid);
      }
    }
  }
  return found;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

async function startOnce(
  node: string,
  args: readonly string[],
  env: Record<string, string>,
  ready: RegExp,
): Promise<Sample> {
  // An empty TMPDIR: tsx keeps its transform cache there, and a new container starts without one.
  const tmp = mkdtempSync(join(tmpdir(), "conveyor-startup-tmp-"));
  const started = performance.now();
  const child: ChildProcess = spawn(node, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", TMPDIR: tmp, LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  try {
    const readyMs = await new Promise<number>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (ready.test(output)) resolve(performance.now() - started);
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.once("exit", () => reject(new Error(`exited before ${ready}:\n${output.slice(-2000)}`)));
      setTimeout(() => reject(new Error(`not ready within 120 s:\n${output.slice(-2000)}`)), 120_000).unref();
    });
    const pid = child.pid ?? 0;
    const cpuAtReady =
      cpuOf(pid) +
      descendants(pid)
        .filter((p) => p.comm === "esbuild")
        .reduce((sum, p) => sum + cpuOf(p.pid), 0);
    // Let the start's last writes settle (the worker's heartbeat, the API's first metrics count).
    await sleep(1_000);
    const nodeRss = rssOf(pid);
    const esbuild = descendants(pid).filter((p) => p.comm === "esbuild");
    const treeRss = nodeRss + esbuild.reduce((sum, p) => sum + rssOf(p.pid), 0);
    return { readyMs, cpuMs: cpuAtReady, nodeRssMiB: nodeRss / MIB, treeRssMiB: treeRss / MIB };
  } finally {
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    await closed;
    clearTimeout(timer);
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const { node, tsx, nodeArgs, runs } = parseArgs(process.argv.slice(2));
  const version = execFileSync(node, ["--version"], { encoding: "utf8" }).trim();
  const loader = [...nodeArgs, ...(tsx ? ["--import", "tsx"] : [])];
  const db = await createTestDatabase("startup");
  const prefix = `cvt-startup-${process.pid}`;
  const artifactDir = mkdtempSync(join(tmpdir(), "conveyor-startup-"));
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    ARTIFACT_DIR: artifactDir,
    HOST: "127.0.0.1",
    PORT: "0",
  };
  const subjects = [
    { name: "API", bin: "packages/api/src/bin/server.ts", ready: /API listening/ },
    { name: "worker", bin: "packages/worker/src/bin/worker.ts", ready: /worker ready/ },
  ];
  console.log(`node ${version} ${loader.join(" ")}${tsx ? "" : " (type stripping)"}, ${runs} runs each`);
  try {
    for (const subject of subjects) {
      const samples: Sample[] = [];
      // One start first, not counted: it warms the file system's page cache.
      await startOnce(node, [...loader, subject.bin], env, subject.ready);
      for (let run = 0; run < runs; run++) {
        samples.push(await startOnce(node, [...loader, subject.bin], env, subject.ready));
      }
      const m = (key: keyof Sample) => median(samples.map((s) => s[key]));
      console.log(
        `${subject.name}: ready ${m("readyMs").toFixed(0)} ms, CPU ${m("cpuMs").toFixed(0)} ms, RSS ${m("nodeRssMiB").toFixed(0)} MiB` +
          ` (with tsx's esbuild ${m("treeRssMiB").toFixed(0)} MiB)` +
          ` [ready ms: ${samples.map((s) => s.readyMs.toFixed(0)).join(", ")}]`,
      );
    }
  } finally {
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await db.drop();
    rmSync(artifactDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
