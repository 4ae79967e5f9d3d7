/** The result of one measure, the machine it ran on, and where it is written. */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, freemem, release, totalmem, type } from "node:os";
import { join } from "node:path";
import type { Summary } from "./stats.ts";

export interface Row {
  /** What is measured, e.g. "req/s" or "p99 latency". */
  metric: string;
  unit: string;
  /** What Conveyor does, summarized over repetitions. */
  subject: Summary;
  /** What it is compared with (omitted when the row has no baseline). */
  baseline?: Summary;
  baselineLabel?: string;
  /** subject.median / baseline.median. */
  ratio?: number;
  /** Human-readable target, e.g. "≥ 0.7× baseline". */
  target?: string;
  pass?: boolean;
  note?: string;
}

export interface MeasureResult {
  name: string;
  title: string;
  mode: "full" | "smoke";
  /** Sizes and settings: N, concurrency, durations. */
  params: Record<string, unknown>;
  rows: Row[];
  /** Anything a reader needs to interpret the numbers (raw samples, profiles). */
  details?: Record<string, unknown>;
  startedAt: string;
  durationMs: number;
  machine: MachineInfo;
}

export interface MachineInfo {
  os: string;
  cpus: { count: number; model: string };
  memoryBytes: { total: number; free: number };
  node: string;
  chromium: string;
  postgres: string;
  redis: string;
  playwright: string;
  gitCommit: string;
}

function tryRun(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    return "unknown";
  }
}

/** Versions are read once; `query` asks Postgres and `redisInfo` Redis through open connections. */
export async function machineInfo(deps: {
  postgresVersion: () => Promise<string>;
  redisVersion: () => Promise<string>;
  root: string;
}): Promise<MachineInfo> {
  const cpuList = cpus();
  let playwright = "unknown";
  try {
    playwright = JSON.parse(readFileSync(join(deps.root, "node_modules/playwright-core/package.json"), "utf8")).version;
  } catch {
    // not installed at the root
  }
  return {
    os: `${type()} ${release()}`,
    cpus: { count: cpuList.length, model: cpuList[0]?.model ?? "unknown" },
    memoryBytes: { total: totalmem(), free: freemem() },
    node: process.version,
    chromium: tryRun("/usr/bin/chromium", ["--version"]).split("\n")[0] ?? "unknown",
    postgres: await deps.postgresVersion().catch(() => "unknown"),
    redis: await deps.redisVersion().catch(() => "unknown"),
    playwright,
    gitCommit: tryRun("git", ["-C", deps.root, "rev-parse", "HEAD"]),
  };
}

/** ratio, target and pass filled in from a comparison; `higherIsBetter` decides the direction. */
export function compare(row: Omit<Row, "ratio" | "pass">, goal?: { factor: number; higherIsBetter: boolean }): Row {
  const ratio = row.baseline ? row.subject.median / row.baseline.median : undefined;
  const pass =
    goal && ratio !== undefined && Number.isFinite(ratio)
      ? goal.higherIsBetter
        ? ratio >= goal.factor
        : ratio <= goal.factor
      : undefined;
  return { ...row, ...(ratio === undefined ? {} : { ratio }), ...(pass === undefined ? {} : { pass }) };
}

export function writeResult(dir: string, result: MeasureResult): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${result.name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
