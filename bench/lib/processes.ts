/**
 * Processes and cleanup for the benchmarks. The API and workers start exactly as the end-to-end
 * tests start them (@conveyor/testing), so a benchmark measures what production runs.
 */
import { readdirSync, readFileSync } from "node:fs";

export {
  BINS,
  freePort,
  type Proc,
  ROOT,
  startProcess,
  stopAllProcesses,
  uniquePrefix,
  waitFor,
  writeProcessOutputTo,
} from "@conveyor/testing/processes";
export { createStack, type Stack } from "@conveyor/testing/stack";

type Cleanup = () => Promise<void> | void;
const cleanups: { name: string; fn: Cleanup }[] = [];

/** Registers something to undo at the end (or on error, or on Ctrl-C). Returns an unregister. */
export function onCleanup(name: string, fn: Cleanup): () => void {
  const entry = { name, fn };
  cleanups.push(entry);
  return () => {
    const index = cleanups.indexOf(entry);
    if (index >= 0) cleanups.splice(index, 1);
  };
}

/** Runs every registered cleanup, newest first; one failing does not stop the others. */
export async function runCleanups(): Promise<void> {
  while (cleanups.length) {
    const entry = cleanups.pop();
    if (!entry) break;
    try {
      await entry.fn();
    } catch (error) {
      console.error(`cleanup ${entry.name} failed:`, error);
    }
  }
}

function childrenOf(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // The command may contain spaces and parentheses: fields start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ppid = Number(fields[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited while we looked
    }
  }
  return children;
}

/** The process and all its descendants. */
export function processTree(pid: number): number[] {
  const children = childrenOf();
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    const current = stack.pop();
    if (current === undefined) break;
    out.push(current);
    stack.push(...(children.get(current) ?? []));
  }
  return out;
}

function kbField(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  return match ? Number(match[1]) * 1024 : 0;
}

/**
 * Memory of a process tree, bytes. `rss` sums each process's resident set (what the brief asks
 * for; counts shared pages once per process), `pss` sums proportional set sizes (shared pages
 * divided among their users: closer to what the tree really costs).
 */
export function treeMemory(pid: number): { rss: number; pss: number; processes: number } {
  let rss = 0;
  let pss = 0;
  let processes = 0;
  for (const p of processTree(pid)) {
    try {
      rss += kbField(readFileSync(`/proc/${p}/status`, "utf8"), "VmRSS");
      pss += kbField(readFileSync(`/proc/${p}/smaps_rollup`, "utf8"), "Pss");
      processes += 1;
    } catch {
      // exited while we looked
    }
  }
  return { rss, pss, processes };
}

const CLOCK_TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system, seconds) used so far by the processes `include` selects, read from
 * /proc: a per-process profile that needs no instrumentation. `include` gets the pid and the
 * process name (`comm`). Processes that exited in between are not counted.
 */
export function cpuSeconds(include: (pid: number, comm: string) => boolean): number {
  let ticks = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (!include(Number(entry), comm)) continue;
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited while we looked
    }
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}
