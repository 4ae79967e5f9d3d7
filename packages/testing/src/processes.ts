/**
 * Real processes for end-to-end and lifecycle tests: the API and workers are started exactly as
 * in production (`node <bin>`: Node strips the types), with their own environment, and killed in afterEach.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

/** The repository's root (this file is packages/testing/src/processes.ts): processes start there. */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export const BINS = {
  api: "packages/api/src/bin/server.ts",
  worker: "packages/worker/src/bin/worker.ts",
  quickStart: "packages/cli/src/bin/conveyor.ts",
  migrate: "packages/db/src/bin/migrate.ts",
} as const;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

export function uniquePrefix(label: string): string {
  return `cvt-${label}-${randomBytes(4).toString("hex")}`;
}

export interface Proc {
  child: ChildProcess;
  name: string;
  /** Everything the process printed so far (stdout + stderr). */
  output(): string;
  /** Resolves with the exit code (or signal) once it exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits until a line matching `pattern` was printed. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

const running = new Set<Proc>();

let logDir: string | null = null;

/**
 * Sends the output of processes started from now on to files in `dir` (`<name>-<pid>.log`)
 * instead of pipes into this process, as a container runtime would. Benchmarks use it so that
 * the load generator does not spend its CPU reading the API's access log. `null` goes back to pipes.
 */
export function writeProcessOutputTo(dir: string | null): void {
  logDir = dir;
}

export function startProcess(name: string, bin: string, env: Record<string, string>, args: string[] = []): Proc {
  const file = logDir ? join(logDir, `${name}-${randomBytes(3).toString("hex")}.log`) : null;
  const fd = file ? openSync(file, "a") : null;
  // As production runs them (`node <bin>.ts`, Node 24 strips the types); tsx only on an older Node.
  const child = spawn(process.execPath, [...(process.features.typescript ? [] : ["--import", "tsx"]), bin, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", LOG_LEVEL: "info", ...env },
    stdio: fd === null ? ["ignore", "pipe", "pipe"] : ["ignore", fd, fd],
  });
  if (fd !== null) closeSync(fd);
  let piped = "";
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    piped += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  // With a log file there are no data events: poll the file while someone waits for output.
  const poll = file
    ? setInterval(() => {
        if (listeners.size > 0) for (const listener of listeners) listener();
      }, 50)
    : null;
  poll?.unref();
  const output = () => (file ? readFileSync(file, "utf8") : piped);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // "close", not "exit": it comes once the output pipes are drained too, so whatever the process
    // wrote before it died (a line flushed just before a SIGKILL) is in `output()` by then.
    child.once("close", (code, signal) => {
      if (poll) clearInterval(poll);
      running.delete(proc);
      for (const listener of listeners) listener();
      resolve({ code, signal });
    });
  });
  const proc: Proc = {
    child,
    name,
    output,
    exited,
    waitForOutput: (pattern, timeoutMs = 30_000) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          const buffer = output();
          if (pattern.test(buffer)) {
            cleanup();
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            cleanup();
            reject(new Error(`${name} exited before printing ${pattern}:\n${buffer.slice(-3000)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name} did not print ${pattern} within ${timeoutMs} ms:\n${output().slice(-3000)}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      }),
    kill: (signal = "SIGTERM") => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
  running.add(proc);
  return proc;
}

/** Kills every process a test started and waits for them: nothing is left running. */
export async function stopAllProcesses(): Promise<void> {
  const procs = [...running];
  for (const proc of procs) proc.kill("SIGKILL");
  await Promise.all(procs.map((p) => p.exited));
}

/** Polls `fn` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined>,
  { timeoutMs = 30_000, intervalMs = 100, what = "condition" } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}
