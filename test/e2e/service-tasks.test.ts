/**
 * The service-task orchestrator with real processes on one Postgres: two processes run the real
 * Orchestrator with test tasks (packages/worker/test/fixtures/task-process.ts) while the API
 * process serves the admin routes and health.
 *
 * - one instance of a task at a time across both, `blocks` never side by side, `dependsOn` waits;
 * - a task failing N runs in a row is disabled, logged at error level and makes health degraded;
 *   enabling it makes it run again;
 * - a manual run is taken; 409 with the reason while running or blocked, and when disabled;
 * - SIGTERM waits for a running task, or at its deadline aborts it and releases its lease, which
 *   another process then takes at once;
 * - a real worker registers and runs the built-in tasks.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type Proc, startProcess, waitFor } from "@conveyor/testing/processes";
import { ADMIN_TOKEN, createStack, type Stack } from "@conveyor/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const FIXTURE = "packages/worker/test/fixtures/task-process.ts";
const LEASE_MS = 2000;

const TASKS = [
  {
    name: "alpha",
    mode: "scheduled",
    intervalMs: 1000,
    timeoutMs: 10_000,
    sleepMs: 400,
    blocks: ["beta"],
    priority: 1,
  },
  { name: "beta", mode: "scheduled", intervalMs: 300, timeoutMs: 10_000, sleepMs: 300, priority: 2 },
  { name: "gamma", mode: "scheduled", intervalMs: 300, timeoutMs: 10_000, sleepMs: 200, dependsOn: ["alpha"] },
  {
    name: "flaky",
    mode: "scheduled",
    intervalMs: 200,
    timeoutMs: 10_000,
    sleepMs: 10,
    fail: true,
    maxRetries: 1,
    retryDelayMs: 50,
    maxConsecutiveFailures: 3,
  },
  { name: "manual", mode: "triggered", intervalMs: 0, timeoutMs: 10_000, sleepMs: 100 },
  { name: "slow", mode: "triggered", intervalMs: 0, timeoutMs: 30_000, sleepMs: 4000, blocks: ["manual"] },
  { name: "stuck", mode: "triggered", intervalMs: 0, timeoutMs: 120_000, sleepMs: 60_000, ignoreSignal: true },
].map((task) => ({ ...task, leaseMs: LEASE_MS }));

let stack: Stack;

interface Mark {
  task: string;
  holder: string;
  started: number;
  ended: number | null;
}

async function marks(): Promise<Mark[]> {
  const rows = await stack.db.query<{ task: string; holder: string; started_at: Date; ended_at: Date | null }>(
    "select task, holder, started_at, ended_at from task_marks order by id",
  );
  return rows.map((row) => ({
    task: row.task,
    holder: row.holder,
    started: new Date(row.started_at).getTime(),
    ended: row.ended_at === null ? null : new Date(row.ended_at).getTime(),
  }));
}

function overlaps(a: Mark, b: Mark): boolean {
  const aEnd = a.ended ?? Number.POSITIVE_INFINITY;
  const bEnd = b.ended ?? Number.POSITIVE_INFINITY;
  return a.started < bEnd && b.started < aEnd;
}

function startTaskProcess(holder: string, shutdownMs: number): Proc {
  return startProcess(holder, FIXTURE, {
    DATABASE_URL: stack.db.url,
    HOLDER: holder,
    SHUTDOWN_MS: String(shutdownMs),
    TASKS: JSON.stringify(TASKS),
  });
}

async function admin(method: string, path: string, body?: unknown) {
  return stack.request(method, path, body, { authorization: `Bearer ${ADMIN_TOKEN}` });
}

async function task(name: string): Promise<any> {
  const response = await admin("GET", `/api/admin/tasks/${name}`);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body;
}

let a: Proc;
let b: Proc;

beforeAll(async () => {
  stack = await createStack("tasks");
  await stack.db.query(
    "create table task_marks (id serial primary key, task text not null, holder text not null, started_at timestamptz not null default clock_timestamp(), ended_at timestamptz)",
  );
  await stack.startApi();
  a = startTaskProcess("proc-a", 10_000);
  b = startTaskProcess("proc-b", 10_000);
  await Promise.all([a.waitForOutput(/orchestrator ready/, 60_000), b.waitForOutput(/orchestrator ready/, 60_000)]);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe("two processes, one set of tasks", () => {
  it("run each task once at a time, never beside what blocks it, and after what it depends on", async () => {
    await sleep(8000);
    const all = await marks();
    const of = (name: string) => all.filter((mark) => mark.task === name);
    for (const name of ["alpha", "beta", "gamma"]) {
      expect(of(name).length, `${name} ran`).toBeGreaterThanOrEqual(3);
      const list = of(name);
      for (let i = 0; i < list.length; i++) {
        for (let j = i + 1; j < list.length; j++) {
          expect(overlaps(list[i] as Mark, list[j] as Mark), `${name} ran twice at once`).toBe(false);
        }
      }
    }
    // Both processes took part.
    expect(new Set(all.map((mark) => mark.holder))).toEqual(new Set(["proc-a", "proc-b"]));
    // alpha blocks beta: never side by side, whichever started first.
    for (const alpha of of("alpha")) {
      for (const beta of of("beta")) expect(overlaps(alpha, beta), "alpha and beta ran together").toBe(false);
    }
    // gamma depends on alpha: it never starts while alpha runs.
    for (const gamma of of("gamma")) {
      for (const alpha of of("alpha")) {
        const inside = gamma.started > alpha.started && gamma.started < (alpha.ended ?? Number.POSITIVE_INFINITY);
        expect(inside, "gamma started while alpha was running").toBe(false);
      }
    }
  });

  it("disable a task after N failed runs in a row, say so in health, and run it again once enabled", async () => {
    const disabled = await waitFor(
      async () => {
        const view = await task("flaky");
        return view.enabled === false ? view : undefined;
      },
      { timeoutMs: 20_000, what: "flaky to be disabled" },
    );
    expect(disabled.consecutiveFailures).toBe(3);
    expect(disabled.runs).toBe(3);
    expect(disabled.failures).toBe(3);
    expect(disabled.status).toBe("disabled");
    expect(disabled.disabledReason).toContain("failed 3 times in a row");
    expect(disabled.lastError).toBe("flaky fails on purpose");
    // Each run tried twice (maxRetries 1) before it counted as failed; nothing ran once disabled.
    await sleep(1000);
    expect((await marks()).filter((mark) => mark.task === "flaky")).toHaveLength(6);
    expect(`${a.output()}${b.output()}`).toMatch(/"level":50[^\n]*service task flaky disabled after 3 failed runs/);

    const health = await admin("GET", "/api/health/detailed");
    expect(health.status).toBe(200);
    expect(health.body.status).toBe("degraded");
    expect(health.body.reasons.join("\n")).toContain("service task flaky is disabled: failed 3 times in a row");
    const names = (health.body.tasks as { name: string }[]).map((row) => row.name);
    expect(names).toEqual(expect.arrayContaining(["alpha", "beta", "gamma", "flaky", "manual", "slow", "stuck"]));

    const enabled = await admin("POST", "/api/admin/tasks/flaky/enable");
    expect(enabled.status).toBe(200);
    expect(enabled.body).toMatchObject({ enabled: true, consecutiveFailures: 0, disabledReason: null });
    const again = await waitFor(
      async () => {
        const view = await task("flaky");
        return view.runs >= 6 && view.enabled === false ? view : undefined;
      },
      { timeoutMs: 20_000, what: "flaky to run again and be disabled again" },
    );
    expect(again.failures).toBe(6);
  });

  it("take a manual run; refuse one with 409 and the reason while running, blocked or disabled", async () => {
    const first = await admin("POST", "/api/admin/tasks/manual/run");
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect(first.body.runRequestedAt).not.toBeNull();
    await waitFor(async () => ((await task("manual")).runs === 1 ? true : undefined), {
      timeoutMs: 10_000,
      what: "the manual run",
    });
    expect((await task("manual")).lastSuccessAt).not.toBeNull();

    expect((await admin("POST", "/api/admin/tasks/slow/run")).status).toBe(202);
    await waitFor(async () => ((await task("slow")).status === "running" ? true : undefined), {
      timeoutMs: 10_000,
      what: "slow to run",
    });
    const running = await admin("POST", "/api/admin/tasks/slow/run");
    expect(running.status).toBe(409);
    expect(running.body.error.message).toMatch(/slow is running on proc-[ab]/);
    const blocked = await admin("POST", "/api/admin/tasks/manual/run");
    expect(blocked.status).toBe(409);
    expect(blocked.body.error.message).toContain("blocked: slow is running");
    const disabled = await admin("POST", "/api/admin/tasks/flaky/run");
    expect(disabled.status).toBe(409);
    expect(disabled.body.error.message).toContain("flaky is disabled");
    expect((await admin("POST", "/api/admin/tasks/nope/run")).status).toBe(404);
    expect((await stack.request("GET", "/api/admin/tasks", undefined, { authorization: "" })).status).toBe(401);
    await waitFor(async () => ((await task("slow")).runs === 1 ? true : undefined), {
      timeoutMs: 15_000,
      what: "slow to finish",
    });
  });
});

describe("SIGTERM", () => {
  it("waits for a running task, or releases its lease at the deadline for another process to take", async () => {
    a.kill("SIGTERM");
    b.kill("SIGTERM");
    expect((await a.exited).code).toBe(0);
    expect((await b.exited).code).toBe(0);

    // A task that ends within the deadline: the process waits for it and records the run.
    const c = startTaskProcess("proc-c", 10_000);
    await c.waitForOutput(/orchestrator ready/, 60_000);
    const before = (await task("slow")).runs as number;
    expect((await admin("POST", "/api/admin/tasks/slow/run")).status).toBe(202);
    await waitFor(async () => ((await task("slow")).running?.worker === "proc-c" ? true : undefined), {
      timeoutMs: 10_000,
      what: "slow to run on proc-c",
    });
    c.kill("SIGTERM");
    expect((await c.exited).code).toBe(0);
    const slow = await task("slow");
    expect(slow.runs).toBe(before + 1);
    expect(slow.running).toBeNull();
    const slowMarks = (await marks()).filter((mark) => mark.task === "slow" && mark.holder === "proc-c");
    expect(slowMarks).toHaveLength(1);
    expect(slowMarks[0]?.ended).not.toBeNull();

    // A task still running at the deadline: aborted, its lease released, its run not recorded.
    const d = startTaskProcess("proc-d", 1500);
    await d.waitForOutput(/orchestrator ready/, 60_000);
    expect((await admin("POST", "/api/admin/tasks/stuck/run")).status).toBe(202);
    await waitFor(async () => ((await task("stuck")).running?.worker === "proc-d" ? true : undefined), {
      timeoutMs: 10_000,
      what: "stuck to run on proc-d",
    });
    const stopAt = Date.now();
    d.kill("SIGTERM");
    expect((await d.exited).code).toBe(0);
    expect(Date.now() - stopAt).toBeLessThan(20_000);
    expect(d.output()).toContain("service task abandoned at shutdown: lease released");
    const stuck = await task("stuck");
    expect(stuck.running).toBeNull();
    expect(stuck.runs).toBe(0);
    expect(stuck.status).toBe("requested");

    // Released, not expired: the next process takes it at once, well within the lease.
    const e = startTaskProcess("proc-e", 1000);
    await e.waitForOutput(/orchestrator ready/, 60_000);
    await waitFor(async () => ((await task("stuck")).running?.worker === "proc-e" ? true : undefined), {
      timeoutMs: 10_000,
      what: "stuck to be taken by proc-e",
    });
    e.kill("SIGKILL");
    await e.exited;
  });
});

describe("a real worker", () => {
  it("registers the built-in tasks and runs them", async () => {
    await stack.startWorker("w-tasks", { RECONCILE_INTERVAL_MS: "1000" });
    const list = await waitFor(
      async () => {
        const response = await admin("GET", "/api/admin/tasks");
        const tasks = response.body.tasks as { name: string; runs: number; lastSuccessAt: string | null }[];
        const builtIn = ["reconciler", "schedule-clock", "run-retention", "artifact-retention", "stats-rollup"];
        const ran = builtIn.every((name) => tasks.find((row) => row.name === name)?.lastSuccessAt);
        const reconciler = tasks.find((row) => row.name === "reconciler");
        return ran && reconciler && reconciler.runs >= 2 ? tasks : undefined;
      },
      { timeoutMs: 30_000, what: "every built-in task to run, the reconciler twice" },
    );
    const byName = new Map(list.map((row) => [row.name, row]));
    for (const name of ["reconciler", "schedule-clock", "run-retention", "artifact-retention", "stats-rollup"]) {
      expect(byName.get(name)?.lastSuccessAt, `${name} ran`).not.toBeNull();
    }
    expect(byName.get("run-retention")).toMatchObject({ lastResult: { off: true }, dependsOn: ["reconciler"] });
    expect(byName.get("artifact-retention")).toMatchObject({ blocks: ["run-retention"] });
    expect(byName.get("stats-rollup")).toMatchObject({ blocks: ["run-retention"], lastResult: { runs: 0 } });
  });
});
