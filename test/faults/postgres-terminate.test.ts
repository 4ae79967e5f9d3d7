/**
 * Fault: Postgres terminates every backend of the database (pg_terminate_backend), several times,
 * while runs execute: the API's, the workers' (mid-claim, mid-action-write, mid-finish) and the
 * test's own. Transient database errors are retried; every run still reaches exactly one terminal
 * state, none is left running, and the ones that passed are complete and correct. A run the queue
 * gave up on is dead-lettered, never silently lost.
 *
 * postgres.js 3.4.9 used to crash a process when its connection died: an uncaught TypeError from a
 * write on a closed connection (porsager/postgres#1154, #1208), or the unhandled rejection of its
 * own array-types query (#1192, #1205). Both are patched (patches/postgres@3.4.9.patch, tested on
 * their own in packages/db/test/driver-connection-loss.test.ts), so no process may crash here. The
 * test still plays the supervisor (Kubernetes, Compose `restart:`), so that a crash is reported
 * with its output rather than as runs that never finish.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createPostgresDb, type DbHandle } from "@conveyor/db";
import { audit, createFaultStack, eventTrail, type FaultStack, waitForRunsInFlight } from "@conveyor/testing/faults";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import type { Proc } from "@conveyor/testing/processes";
import { loginRecording, slowRecording } from "@conveyor/testing/recordings";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let site: FixtureSite;
let fault: FaultStack;
let admin: DbHandle | undefined;
let workers: Proc[] = [];

beforeAll(async () => {
  site = await startFixtureSite();
  fault = await createFaultStack("f-pgterm");
  await fault.startApi();
  await fault.stack.createProject("faults");
  workers = await Promise.all([
    fault.startWorker("w-pg-a", { WORKER_CONCURRENCY: "2" }),
    fault.startWorker("w-pg-b", { WORKER_CONCURRENCY: "2" }),
  ]);
  // Its own connection, so that it is the one backend the termination spares.
  admin = await createPostgresDb({ url: fault.db.url, maxConnections: 1, applicationName: "fault-injector" });
});

afterAll(async () => {
  await admin?.close();
  await fault?.stop();
  await site?.close();
});

const TERMINATE_ALL = `select pg_terminate_backend(pid) as terminated, application_name from pg_stat_activity
  where datname = current_database() and pid <> pg_backend_pid()`;

describe("Postgres backends terminated mid-run", () => {
  it("every run reaches one terminal state; passed runs are complete; errored ones are dead-lettered", async () => {
    const runIds: string[] = [];
    // Slow runs hold a claim for seconds; login runs write six action rows in quick succession.
    for (let i = 0; i < 10; i++) {
      runIds.push(await fault.submit(i % 2 === 0 ? slowRecording(site.url, 2500) : loginRecording(site.url)));
    }
    await waitForRunsInFlight(fault.db, "w-pg-a", 1);

    const crashes: string[] = [];
    let supervising = true;
    const supervisor = (async () => {
      while (supervising) {
        for (const [slot, worker] of workers.entries()) {
          if (worker.child.exitCode === null && worker.child.signalCode === null) continue;
          crashes.push(worker.output().slice(-3000));
          workers[slot] = await fault.startWorker(worker.name, { WORKER_CONCURRENCY: "2" });
        }
        const api = fault.stack.api;
        if (api && (api.child.exitCode !== null || api.child.signalCode !== null)) {
          crashes.push(api.output().slice(-3000));
          await fault.startApi();
        }
        await sleep(200);
      }
    })();

    const terminatedApps = new Set<string>();
    for (let round = 0; round < 5; round++) {
      const rows = await (admin as DbHandle).query<{ terminated: boolean; application_name: string }>(TERMINATE_ALL);
      for (const row of rows) if (row.terminated) terminatedApps.add(row.application_name.split(" ")[0] ?? "");
      await sleep(600 + round * 150);
    }
    // It did hit the service's own connections, not just the test's.
    expect([...terminatedApps]).toEqual(expect.arrayContaining(["conveyor-worker", "conveyor-api"]));

    const summary = await audit(fault.db, runIds, { timeoutMs: 90_000, queue: fault });
    supervising = false;
    await supervisor;
    expect(crashes, "a process crashed when Postgres dropped its connections").toEqual([]);
    for (const run of summary.runs.values()) {
      const trail = eventTrail(run).join(" ");
      // A dropped connection is infrastructure, never the site's fault: never `failed`.
      expect(["passed", "errored"], trail).toContain(run.status);
      if (run.status === "errored") {
        expect(run.error_kind, trail).toBe("transient");
        expect(run.dead_lettered, `an errored run that exhausted its retries is dead-lettered: ${trail}`).toBe(true);
      }
    }
    const deadLetters = await fault.request("GET", "/api/dead-letters?limit=100");
    expect(deadLetters.status).toBe(200);
    const erroredIds = [...summary.runs.values()].filter((r) => r.status === "errored").map((r) => r.id);
    expect(deadLetters.body.items.map((r: { id: string }) => r.id).sort()).toEqual(erroredIds.sort());

    // The service is whole again: both workers (restarted, if they crashed) alive, the API accepts
    // and a new run passes.
    for (const worker of workers) expect(worker.child.exitCode, worker.output().slice(-2000)).toBeNull();
    const after = await fault.submit(loginRecording(site.url));
    const final = await audit(fault.db, [...runIds, after], { timeoutMs: 30_000 });
    expect(final.runs.get(after)?.status).toBe("passed");
    console.info(
      `postgres-terminate: ${JSON.stringify(summary.statuses)}, attempts ${JSON.stringify(summary.attempts)}`,
    );
  });
});
