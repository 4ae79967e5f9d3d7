/**
 * The orchestrator in one process against real Postgres: what the process-level e2e
 * (test/e2e/service-tasks.test.ts) does not reach — continuous and triggered modes, the timeout,
 * retries, and the fence: a run whose lease was taken over is aborted and writes nothing.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "@conveyor/core";
import { getServiceTask, takeServiceTask } from "@conveyor/db";
import { createTestDatabase, type TestDatabase } from "@conveyor/db/testing";
import { waitFor } from "@conveyor/testing/processes";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Orchestrator, type ServiceTaskDefinition } from "../src/orchestrator.ts";

let db: TestDatabase;
const logger = createLogger({ level: "silent" });
const started: Orchestrator[] = [];

beforeAll(async () => {
  db = await createTestDatabase("orchestrator");
});

afterEach(async () => {
  await Promise.all(started.splice(0).map((orchestrator) => orchestrator.stop(1000)));
});

afterAll(async () => {
  await db?.drop();
});

async function start(name: string, tasks: ServiceTaskDefinition[]): Promise<Orchestrator> {
  const orchestrator = new Orchestrator({ db, logger, name, tasks, pollMs: 50 });
  await orchestrator.start();
  started.push(orchestrator);
  return orchestrator;
}

function base(name: string, overrides: Partial<ServiceTaskDefinition> = {}): ServiceTaskDefinition {
  return {
    name,
    description: name,
    mode: "scheduled",
    intervalMs: 60_000,
    timeoutMs: 10_000,
    run: async () => ({}),
    ...overrides,
  };
}

describe("Orchestrator", () => {
  it("refuses definitions naming unknown tasks, or twice the same name", () => {
    expect(() => new Orchestrator({ db, logger, name: "x", tasks: [base("a", { blocks: ["nope"] })] })).toThrow(
      "unknown task nope",
    );
    expect(() => new Orchestrator({ db, logger, name: "x", tasks: [base("a"), base("a")] })).toThrow("two service");
  });

  it("runs a continuous task again after its pause, and a triggered one only when asked", async () => {
    let continuous = 0;
    let triggered = 0;
    const orchestrator = await start("w1", [
      base("loop", { mode: "continuous", intervalMs: 50, run: async () => ({ n: ++continuous }) }),
      base("on-demand", { mode: "triggered", intervalMs: 0, run: async () => ({ n: ++triggered }) }),
    ]);
    await waitFor(async () => (continuous >= 4 ? true : undefined), { timeoutMs: 10_000, what: "4 loops" });
    expect(triggered).toBe(0);
    expect(await orchestrator.trigger("on-demand")).toEqual({ ok: true });
    await waitFor(async () => (triggered === 1 ? true : undefined), { timeoutMs: 10_000, what: "the triggered run" });
    await sleep(300);
    expect(triggered).toBe(1);
    const state = await getServiceTask(db.db, "on-demand");
    expect(state).toMatchObject({ runs: 1, runRequestedAt: null, lastResult: { n: 1 } });
  });

  it("retries a failing try, and counts a run past its timeout as failed", async () => {
    let tries = 0;
    await start("w2", [
      base("retrying", {
        maxRetries: 2,
        retryDelayMs: 10,
        run: async () => {
          tries += 1;
          if (tries < 3) throw new Error(`try ${tries} fails`);
          return { tries };
        },
      }),
      base("too-slow", {
        timeoutMs: 200,
        maxConsecutiveFailures: 1,
        run: ({ signal }) => sleep(5000, undefined, { signal }).then(() => ({})),
      }),
    ]);
    const retrying = await waitFor(
      async () => {
        const state = await getServiceTask(db.db, "retrying");
        return state?.lastSuccessAt ? state : undefined;
      },
      { timeoutMs: 10_000, what: "retrying to succeed" },
    );
    expect(retrying).toMatchObject({ runs: 1, failures: 0, consecutiveFailures: 0, lastResult: { tries: 3 } });
    const slow = await waitFor(
      async () => {
        const state = await getServiceTask(db.db, "too-slow");
        return state && !state.enabled ? state : undefined;
      },
      { timeoutMs: 10_000, what: "too-slow to be disabled" },
    );
    expect(slow.lastError).toBe("timed out after 200 ms");
    expect(slow.disabledReason).toContain("failed 1 times in a row");
  });

  it("aborts a run whose lease was taken over, and records nothing of it", async () => {
    let aborted: unknown;
    let resolveRelease = () => {};
    const released = new Promise<void>((resolve) => {
      resolveRelease = resolve;
    });
    await start("w3", [
      base("fenced", {
        leaseMs: 600,
        run: async ({ signal }) => {
          signal.addEventListener("abort", () => {
            aborted = signal.reason;
            resolveRelease();
          });
          await released;
          return { finished: true };
        },
      }),
    ]);
    const running = await waitFor(
      async () => {
        const state = await getServiceTask(db.db, "fenced");
        return state?.running ? state : undefined;
      },
      { timeoutMs: 10_000, what: "fenced to run" },
    );
    // Another holder takes the lease over, as a take does once w3 was frozen past its lease.
    const [over] = await db.query<{ lease_token: number }>(
      "update service_tasks set lease_holder = 'w-other', lease_token = lease_token + 1, lease_expires_at = now() + interval '1 minute' where name = 'fenced' returning lease_token",
    );
    expect(over?.lease_token).toBeGreaterThan(running.leaseToken);
    // Nor can w3 take it back while w-other holds it.
    expect(await takeServiceTask(db.db, { name: "fenced", holder: "w3", leaseMs: 600 })).toMatchObject({
      taken: null,
      reason: "running",
    });
    await waitFor(async () => (aborted ? true : undefined), { timeoutMs: 5000, what: "w3's run to be aborted" });
    expect(String(aborted)).toContain("lease was lost");
    await sleep(300);
    const after = await getServiceTask(db.db, "fenced");
    // w3 wrote nothing: the run is still w-other's, none recorded.
    expect(after).toMatchObject({ leaseHolder: "w-other", runs: 0, failures: 0, lastError: null });
  });

  it("is not stalled by a worker frozen inside a take: Postgres ends its transaction", async () => {
    await start("w4", [base("after-freeze", { intervalMs: 60_000 })]);
    await waitFor(async () => ((await getServiceTask(db.db, "after-freeze"))?.runs === 1 ? true : undefined), {
      timeoutMs: 10_000,
      what: "a first run",
    });
    await started.splice(0).reduce(async (previous, orchestrator) => {
      await previous;
      await orchestrator.stop(1000);
    }, Promise.resolve());
    await db.query("update service_tasks set next_run_at = now() where name = 'after-freeze'");
    // A worker frozen inside a take, right after it took the takes' lock (it never goes on).
    let thaw = () => {};
    const frozenTake = takeServiceTask(db.db, {
      name: "after-freeze",
      holder: "w-frozen",
      leaseMs: 10_000,
      afterLock: () =>
        new Promise<void>((resolve) => {
          thaw = resolve;
        }),
    }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const startedAt = Date.now();
    const taken = await waitFor(
      async () => {
        const outcome = await takeServiceTask(db.db, { name: "after-freeze", holder: "w5", leaseMs: 10_000 }).catch(
          () => ({ taken: null }),
        );
        return outcome.taken ?? undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: "a take despite the frozen one" },
    );
    expect(taken.name).toBe("after-freeze");
    // It waited for Postgres to end the frozen transaction (5 s idle), not for the frozen worker.
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(3000);
    thaw();
    // The frozen take, once awake, finds its transaction ended: it took nothing.
    expect(await frozenTake).toBeInstanceOf(Error);
    expect((await getServiceTask(db.db, "after-freeze"))?.leaseHolder).toBe("w5");
  });
});
