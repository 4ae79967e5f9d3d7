/**
 * Fault-injection helpers: a private `redis-server` that a test may kill and restart empty, a
 * stack whose API and workers use it (or the shared test Redis) with fast recovery settings, the
 * audit every fault test ends with, and lookups in the process tree (a worker's Chromium).
 *
 * The audit is the point of the suite. A run accepted with a 202 is a promise: whatever the fault,
 * every accepted run ends in exactly one terminal state within a bound, nothing runs twice in
 * effect (one terminal event, one complete set of action rows for the attempt that counts), no
 * run is left queued or running, and the counts add up.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { TestDatabase } from "@conveyor/db/testing";
import { Redis } from "ioredis";
import { expect } from "vitest";
import { freePort, type Proc, waitFor } from "./processes.ts";
import { createStack, REDIS_URL, type Stack } from "./stack.ts";

// ---- A private redis-server ----------------------------------------------------------------

export interface RedisServer {
  /** redis://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Pid of the current server process; undefined while it is down. */
  pid(): number | undefined;
  /** Sends `signal` (default SIGKILL) and waits until the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts a new server on the same port with empty data (no persistence), once it answers. */
  restart(): Promise<void>;
  /** Kills the server if it runs and removes its directory. */
  stop(): Promise<void>;
}

const redisServers = new Set<RedisServer>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A `redis-server` of the test's own on a free port, bound to 127.0.0.1, without persistence
 * (`--save "" --appendonly no`), so a restart after SIGKILL comes back empty — Redis losing
 * every queued job. `noeviction`, as Conveyor requires.
 */
export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const root = mkdtempSync(join(tmpdir(), "conveyor-fault-redis-"));
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = "";
  let generation = 0;

  const launch = async (): Promise<void> => {
    // A fresh, empty directory per generation: nothing can be loaded back.
    generation += 1;
    const dir = join(root, String(generation));
    mkdirSync(dir, { recursive: true });
    output = "";
    const proc = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        "--maxmemory-policy",
        "noeviction",
        "--loglevel",
        "notice",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    child = proc;
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    exited = new Promise((resolve) => proc.once("exit", () => resolve()));
    const deadline = Date.now() + 10_000;
    while (!/Ready to accept connections/.test(output)) {
      if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
        proc.kill("SIGKILL");
        await exited;
        throw new Error(`redis-server on port ${port} did not start:\n${output.slice(-2000)}`);
      }
      await sleep(20);
    }
  };

  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: () => (child && child.exitCode === null && child.signalCode === null ? child.pid : undefined),
    async kill(signal = "SIGKILL") {
      if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
    async restart() {
      await server.kill("SIGKILL");
      // The port was just released; a client reconnecting in a loop cannot hold it, but retry a
      // few times rather than fail on a transient EADDRINUSE.
      for (let attempt = 1; ; attempt++) {
        try {
          await launch();
          return;
        } catch (error) {
          if (attempt >= 5) throw error;
          await sleep(200);
        }
      }
    },
    async stop() {
      const pid = child?.pid;
      await server.kill("SIGKILL");
      redisServers.delete(server);
      rmSync(root, { recursive: true, force: true });
      if (pid !== undefined && isAlive(pid)) throw new Error(`redis-server ${pid} is still alive`);
      if (existsSync(root)) throw new Error(`${root} was not removed`);
    },
  };
  await launch();
  redisServers.add(server);
  return server;
}

/** Stops every redis-server this file started (for afterAll). */
export async function stopAllRedisServers(): Promise<void> {
  for (const server of [...redisServers]) await server.stop();
}

// ---- A stack with fast recovery --------------------------------------------------------------

/**
 * Settings under which every recovery path acts within seconds: locks expire after 3 s and are
 * checked every second, a worker silent for 5 s is presumed dead, the reconciler looks every second
 * (at queued runs older than 4 s), and a run gets 3 retries 200 ms apart (API-side settings, given
 * to each run when accepted; the worker ignores the ones it does not know).
 */
export const FAST_RECOVERY: Record<string, string> = {
  WORKER_LOCK_DURATION_MS: "3000",
  WORKER_STALLED_INTERVAL_MS: "1000",
  WORKER_DEAD_AFTER_MS: "5000",
  RECONCILE_INTERVAL_MS: "1000",
  RECONCILE_GRACE_MS: "4000",
  // Generous: with four browsers on two loaded cores a page load can take several seconds, and a
  // run's outcome here must come from the fault injected, never from load.
  ACTION_TIMEOUT_MS: "20000",
  MAX_RETRIES: "3",
  RETRY_BACKOFF_MS: "200",
};

export interface HttpAnswer {
  status: number;
  body: any;
}

export interface FaultStack {
  /** The underlying stack (its own database and Redis prefix). */
  stack: Stack;
  db: TestDatabase;
  prefix: string;
  /** Redis the API and workers use: the private server's, or the shared test Redis. */
  redisUrl: string;
  startApi(extra?: Record<string, string>): Promise<Proc>;
  startWorker(name: string, extra?: Record<string, string>): Promise<Proc>;
  /** POST /api/runs with a recording; expects 202 and returns the run id. */
  submit(recording: unknown, timeoutMs?: number): Promise<string>;
  /** A request with the project's key that gives up after `timeoutMs` (fetch rejects then). */
  request(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<HttpAnswer>;
  /** A Redis client on the stack's Redis (closed by stop()). */
  redis(): Redis;
  /** Whether the BullMQ job of a run exists (its hash key `<prefix>:runs:<job id = run id>`). */
  jobExists(runId: string): Promise<boolean>;
  /** Jobs in the runs queue that are not finished: waiting, prioritized, delayed or active. */
  pendingJobs(): Promise<number>;
  /** Kills every process, closes clients, drops the database, the stack's Redis keys and artifacts. */
  stop(): Promise<void>;
}

/**
 * A stack (own database, own Redis prefix) whose processes use `redis` when given — a private
 * server a test may kill — and {@link FAST_RECOVERY} plus `env` on every API and worker.
 */
export async function createFaultStack(
  label: string,
  options: { redis?: RedisServer; env?: Record<string, string> } = {},
): Promise<FaultStack> {
  const stack = await createStack(label);
  const redisUrl = options.redis?.url ?? REDIS_URL;
  const common = { ...FAST_RECOVERY, REDIS_URL: redisUrl, ...options.env };
  const clients: Redis[] = [];
  const redis = () => {
    const client = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: false });
    client.on("error", () => {
      // The private server may be down on purpose; commands fail, nothing else to do.
    });
    clients.push(client);
    return client;
  };
  let shared: Redis | undefined;
  const client = () => {
    shared ??= redis();
    return shared;
  };
  const queueKey = (suffix: string) => `${stack.prefix}:runs:${suffix}`;

  const fault: FaultStack = {
    stack,
    db: stack.db,
    prefix: stack.prefix,
    redisUrl,
    startApi: (extra = {}) => stack.startApi({ ...common, ...extra }),
    startWorker: (name, extra = {}) => stack.startWorker(name, { ...common, ...extra }),
    async request(method, path, body, timeoutMs = 15_000) {
      const response = await fetch(`${stack.apiUrl}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(stack.apiKey ? { authorization: `Bearer ${stack.apiKey}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON
      }
      return { status: response.status, body: parsed };
    },
    async submit(recording, timeoutMs = 15_000) {
      const response = await fault.request("POST", "/api/runs", { recording }, timeoutMs);
      if (response.status !== 202) {
        throw new Error(`POST /api/runs answered ${response.status}: ${JSON.stringify(response.body)}`);
      }
      return response.body.id as string;
    },
    redis,
    async jobExists(runId) {
      return (await client().exists(queueKey(runId))) === 1;
    },
    async pendingJobs() {
      const r = client();
      const [wait, prioritized, delayed, active, paused] = await Promise.all([
        r.llen(queueKey("wait")),
        r.zcard(queueKey("prioritized")),
        r.zcard(queueKey("delayed")),
        r.llen(queueKey("active")),
        r.llen(queueKey("paused")),
      ]);
      return wait + prioritized + delayed + active + paused;
    },
    async stop() {
      // Our clients, then (stack.stop) every process, the database and the prefix's keys in the
      // shared Redis. A private server holds nothing else and is killed by its own stop().
      for (const c of clients.splice(0)) c.disconnect();
      try {
        await stack.stop();
      } finally {
        rmSync(stack.artifactDir, { recursive: true, force: true });
      }
    },
  };
  return fault;
}

// ---- The audit -------------------------------------------------------------------------------

export const TERMINAL = ["passed", "failed", "errored", "cancelled"] as const;

export interface AuditedEvent {
  id: string;
  type: string;
  attempt: number;
  worker: string | null;
  data: Record<string, any>;
  created_at: Date;
}

export interface AuditedRun {
  id: string;
  status: string;
  attempt: number;
  worker: string | null;
  actions_total: number;
  actions_passed: number;
  actions_failed: number;
  actions_skipped: number;
  error_kind: string | null;
  error_message: string | null;
  dead_lettered: boolean;
  events: AuditedEvent[];
  /** Action rows of the final attempt, by index. */
  actions: { index: number; status: string }[];
}

export interface AuditSummary {
  /** How many runs ended in each status. */
  statuses: Record<string, number>;
  /** Final attempt of each run. */
  attempts: Record<string, number>;
  runs: Map<string, AuditedRun>;
  /** Milliseconds from the audit's start until every run was terminal. */
  settledAfterMs: number;
}

export interface AuditOptions {
  /** Bound within which every run must reach a terminal state, ms. */
  timeoutMs: number;
  /**
   * When true (default), the database must hold exactly `runIds`: no accepted run missing and no
   * run the test does not know about (counts add up).
   */
  exhaustive?: boolean;
  /** When given, also waits (up to 15 s) until the runs queue has no unfinished job left. */
  queue?: FaultStack;
}

/** A query that survives a connection the test itself terminated (pg_terminate_backend). */
async function query<T extends object = Record<string, unknown>>(
  db: TestDatabase,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await db.query(text, params)) as T[];
    } catch (error) {
      if (attempt >= 5) throw error;
      await sleep(100);
    }
  }
}

function describeRun(run: AuditedRun | undefined): string {
  if (!run) return "(missing)";
  const events = run.events.map((e) => `${e.type}#${e.attempt}${e.worker ? `@${e.worker}` : ""}`).join(" → ");
  const error = run.error_message ? ` error=${run.error_kind}: ${run.error_message.slice(0, 300)}` : "";
  return `${run.id} ${run.status} attempt=${run.attempt} worker=${run.worker}${error} events: ${events}`;
}

async function loadRuns(db: TestDatabase, runIds: string[]): Promise<Map<string, AuditedRun>> {
  const rows = await query<Omit<AuditedRun, "events" | "actions">>(
    db,
    `select id, status, attempt, worker, actions_total, actions_passed, actions_failed, actions_skipped,
            error_kind, error_message, (dead_lettered_at is not null) as dead_lettered
       from runs where id = any($1)`,
    [runIds],
  );
  const events = await query<AuditedEvent & { run_id: string }>(
    db,
    "select e.id::text as id, e.run_id, e.type, e.attempt, e.worker, e.data, e.created_at from run_events e where e.run_id = any($1) order by e.id",
    [runIds],
  );
  const actions = await query<{ run_id: string; index: number; status: string }>(
    db,
    `select a.run_id, a.index, a.status from run_actions a join runs r on r.id = a.run_id and r.attempt = a.attempt
      where a.run_id = any($1) order by a.run_id, a.index`,
    [runIds],
  );
  const runs = new Map<string, AuditedRun>();
  for (const row of rows) runs.set(row.id, { ...row, events: [], actions: [] });
  for (const { run_id, ...event } of events) runs.get(run_id)?.events.push(event);
  for (const { run_id, ...action } of actions) runs.get(run_id)?.actions.push(action);
  return runs;
}

/**
 * Waits until every run in `runIds` is terminal (fails after `timeoutMs`, naming the runs that
 * are not and their events), then checks the database's account of each:
 *
 * - exactly one terminal event: one `finished` whose status is the run's, or for a run cancelled
 *   while queued one `cancelled` event and no `finished`; and it is the run's last event;
 * - `attempt` equals the number of `started` events, which carry attempts 1, 2, …;
 * - no duplicate (run, attempt, index) action rows; the final attempt's rows are indexes 0..m-1
 *   with no gap, and for a passed run m = actions_total, every row passed or skipped;
 * - counts: passed + failed + skipped ≤ total, and = total (no failure) for a passed run; the
 *   counts of a passed run match its rows;
 * - nothing in the database is left queued or running, and (exhaustive) it holds exactly these runs;
 * - with `queue`, the runs queue drains: no job left waiting or active.
 */
export async function audit(db: TestDatabase, runIds: string[], options: AuditOptions): Promise<AuditSummary> {
  expect(new Set(runIds).size, "audit: run ids must be distinct").toBe(runIds.length);
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  let runs = await loadRuns(db, runIds);
  for (;;) {
    const pending = runIds.filter((id) => !(TERMINAL as readonly string[]).includes(runs.get(id)?.status ?? ""));
    if (pending.length === 0) break;
    if (Date.now() > deadline) {
      throw new Error(
        `audit: ${pending.length} of ${runIds.length} run(s) not terminal within ${options.timeoutMs} ms:\n` +
          pending.map((id) => `  ${describeRun(runs.get(id))}`).join("\n"),
      );
    }
    await sleep(250);
    runs = await loadRuns(db, runIds);
  }
  const settledAfterMs = Date.now() - started;

  // A run that ended otherwise than passing is what a failed audit is about: say why, up front.
  for (const id of runIds) {
    const run = runs.get(id);
    if (run && run.status !== "passed") console.warn(`audit: ${describeRun(run)}`);
  }
  const statuses: Record<string, number> = {};
  const attempts: Record<string, number> = {};
  for (const id of runIds) {
    const run = runs.get(id);
    if (!run) throw new Error(`audit: run ${id} is missing`);
    const where = describeRun(run);
    statuses[run.status] = (statuses[run.status] ?? 0) + 1;
    attempts[id] = run.attempt;

    // One terminal event, the last one.
    const terminalEvents = run.events.filter((e) => e.type === "finished" || e.type === "cancelled");
    expect(terminalEvents, `one terminal event: ${where}`).toHaveLength(1);
    const terminal = terminalEvents[0];
    expect(run.events.at(-1), `the terminal event is the last: ${where}`).toBe(terminal);
    if (terminal?.type === "finished") {
      expect(terminal.data.status, `finished event's status: ${where}`).toBe(run.status);
    } else {
      expect(run.status, `a cancelled event ends a cancelled run: ${where}`).toBe("cancelled");
    }
    expect(run.events[0]?.type, `the first event is queued: ${where}`).toBe("queued");
    expect(
      run.events.filter((e) => e.type === "queued"),
      `one queued event: ${where}`,
    ).toHaveLength(1);

    // Every claim is a started event, attempts 1..n in order.
    const startedAttempts = run.events.filter((e) => e.type === "started").map((e) => e.attempt);
    expect(startedAttempts, `started events carry attempts 1..n: ${where}`).toEqual(
      Array.from({ length: run.attempt }, (_, i) => i + 1),
    );

    // Counts add up.
    const done = run.actions_passed + run.actions_failed + run.actions_skipped;
    expect(done, `counts ≤ total: ${where}`).toBeLessThanOrEqual(run.actions_total);
    expect(Math.min(run.actions_passed, run.actions_failed, run.actions_skipped)).toBeGreaterThanOrEqual(0);

    // The final attempt's rows: a prefix 0..m-1 of the recording, no gaps.
    const indexes = run.actions.map((a) => a.index);
    expect(indexes, `final attempt's action rows have no gap: ${where}`).toEqual(
      Array.from({ length: indexes.length }, (_, i) => i),
    );
    expect(indexes.length, `no more rows than actions: ${where}`).toBeLessThanOrEqual(run.actions_total);
    if (run.status === "passed") {
      expect(indexes.length, `a passed run has a row per action: ${where}`).toBe(run.actions_total);
      expect(
        run.actions.filter((a) => a.status !== "passed" && a.status !== "skipped"),
        `a passed run's rows passed or skipped: ${where}`,
      ).toEqual([]);
      expect(run.actions_passed + run.actions_skipped, `passed + skipped = total: ${where}`).toBe(run.actions_total);
      expect(run.actions_failed, `a passed run has no failed action: ${where}`).toBe(0);
      expect(run.actions_passed, `passed count matches rows: ${where}`).toBe(
        run.actions.filter((a) => a.status === "passed").length,
      );
    }
  }

  // No duplicate rows anywhere (the primary key forbids them; a regression would show here).
  const duplicates = await query(
    db,
    `select run_id, attempt, index, count(*)::int as n from run_actions where run_id = any($1)
      group by run_id, attempt, index having count(*) > 1`,
    [runIds],
  );
  expect(duplicates, "duplicate action rows").toEqual([]);
  // No rows from an attempt that never started (a write that escaped the fencing).
  const strays = await query(
    db,
    "select a.run_id, a.attempt from run_actions a join runs r on r.id = a.run_id where a.attempt > r.attempt or a.attempt < 1",
  );
  expect(strays, "action rows of attempts that never started").toEqual([]);

  const unfinished = await query(db, "select id, status from runs where status in ('queued', 'running')");
  expect(unfinished, "runs left queued or running").toEqual([]);
  if (options.exhaustive ?? true) {
    const all = await query<{ id: string }>(db, "select id from runs order by id");
    expect(all.map((r) => r.id).sort(), "the database holds exactly the accepted runs").toEqual([...runIds].sort());
  }
  if (options.queue) {
    const queue = options.queue;
    await waitFor(async () => ((await queue.pendingJobs()) === 0 ? true : undefined), {
      timeoutMs: 15_000,
      what: "the runs queue to have no waiting or active job",
    });
  }
  return { statuses, attempts, runs, settledAfterMs };
}

/** Event types of a run, with the worker that wrote each: `["started#1@w-a", …]`. */
export function eventTrail(run: AuditedRun | undefined): string[] {
  return (run?.events ?? []).map((e) => `${e.type}#${e.attempt}${e.worker ? `@${e.worker}` : ""}`);
}

// ---- Processes -------------------------------------------------------------------------------

interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
}

function processTable(): ProcInfo[] {
  const table: ProcInfo[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split at the last ")".
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const open = stat.indexOf("(");
      const close = stat.lastIndexOf(")");
      const rest = stat
        .slice(close + 2)
        .split(" ")
        .filter(Boolean);
      table.push({ pid: Number(entry), comm: stat.slice(open + 1, close), ppid: Number(rest[1]) });
    } catch {
      // exited while we read
    }
  }
  return table;
}

/**
 * The Chromium processes under a worker: every descendant of `workerPid` whose command is
 * chromium (or chrome): the browser, its zygotes, renderers and helpers. Killing them all is a
 * browser crash as the worker sees it.
 */
/**
 * SIGKILLs each of `pids`. One that exited since it was listed (a renderer that went down with
 * its browser) is what was wanted anyway, not an error.
 */
export function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
    }
  }
}

export function chromiumPidsOf(workerPid: number): number[] {
  const table = processTable();
  const children = new Map<number, ProcInfo[]>();
  for (const info of table) {
    const list = children.get(info.ppid) ?? [];
    list.push(info);
    children.set(info.ppid, list);
  }
  const found: number[] = [];
  const queue = [workerPid];
  while (queue.length) {
    const pid = queue.shift() as number;
    for (const child of children.get(pid) ?? []) {
      if (/chrom/i.test(child.comm)) found.push(child.pid);
      queue.push(child.pid);
    }
  }
  return found;
}

/** Waits until none of `pids` is alive (zombies aside); throws naming the survivors. */
export async function waitForPidsGone(pids: number[], timeoutMs = 10_000): Promise<void> {
  const alive = () =>
    pids.filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
      } catch {
        return false;
      }
    });
  const deadline = Date.now() + timeoutMs;
  while (alive().length > 0) {
    if (Date.now() > deadline) {
      const survivors = alive();
      for (const pid of survivors) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone meanwhile
        }
      }
      throw new Error(`processes still alive after ${timeoutMs} ms (now killed): ${survivors.join(", ")}`);
    }
    await sleep(100);
  }
}

/** Runs of a worker that are `running` in the database now. */
export async function runningRunsOf(db: TestDatabase, worker: string): Promise<string[]> {
  const rows = await query<{ id: string }>(db, "select id from runs where status = 'running' and worker = $1", [
    worker,
  ]);
  return rows.map((r) => r.id);
}

/** Waits until `worker` has at least `count` runs running whose first action row has landed. */
export async function waitForRunsInFlight(
  db: TestDatabase,
  worker: string,
  count: number,
  timeoutMs = 60_000,
): Promise<string[]> {
  return waitFor(
    async () => {
      const rows = await query<{ id: string }>(
        db,
        `select r.id from runs r where r.status = 'running' and r.worker = $1
            and exists (select 1 from run_actions a where a.run_id = r.id and a.attempt = r.attempt)`,
        [worker],
      );
      return rows.length >= count ? rows.map((r) => r.id) : undefined;
    },
    { timeoutMs, what: `${count} run(s) in flight on ${worker}` },
  );
}

export { query as resilientQuery };
