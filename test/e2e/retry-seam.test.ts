/**
 * One error seam: whatever goes wrong in an attempt is classified once, in the processor, and the
 * `retry_scheduled` event it writes says exactly what the queue then does. And options the runner
 * refuses are the run's fault (permanent), not the infrastructure's: no retry.
 */
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { freePort, waitFor } from "@conveyor/testing/processes";
import { loginRecording } from "@conveyor/testing/recordings";
import { createStack, REDIS_URL, type Stack } from "@conveyor/testing/stack";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let site: FixtureSite;
let stack: Stack;
let redis: Redis;

interface EventRow {
  type: string;
  attempt: number;
  data: Record<string, unknown>;
}

const eventsOf = (runId: string) =>
  stack.db.query<EventRow & Record<string, unknown>>(
    "select type, attempt, data from run_events where run_id = $1 order by id",
    [runId],
  );

/** The BullMQ job hash's `delay` field: what the queue applied when it last delayed the job. */
const jobDelay = async (runId: string) => Number(await redis.hget(`${stack.prefix}:runs:${runId}`, "delay"));

beforeAll(async () => {
  site = await startFixtureSite();
  stack = await createStack("seam");
  redis = new Redis(REDIS_URL);
  // Retries far apart (10 min base) and one retry: a backoff applied where none was decided
  // would park the run for minutes, and the decided delays are large enough to compare exactly.
  await stack.startApi({ MAX_RETRIES: "1", RETRY_BACKOFF_MS: "600000" });
  await stack.createProject("seam");
});

afterAll(async () => {
  redis?.disconnect();
  await stack?.stop();
  await site?.close();
});

describe("the retry seam", () => {
  it("an invalid stored option ends the run errored (permanent) on its first attempt, no retry", async () => {
    // Accepted while no worker runs; then its stored options become something the runner refuses
    // (what a row written by another release could hold).
    const response = await stack.request("POST", "/api/runs", { recording: loginRecording(site.url) });
    expect(response.status).toBe(202);
    const runId = response.body.id as string;
    await stack.db.query(`update runs set options = '{"timing":"realtime","speed":1000}'::jsonb where id = $1`, [
      runId,
    ]);
    const worker = await stack.startWorker("w-seam-options");
    try {
      const run = await stack.waitForRun(runId, ["passed", "failed", "errored", "cancelled"]);
      expect(run.status).toBe("errored");
      expect(run.attempt).toBe(1);
      expect(run.error).toMatchObject({ kind: "permanent" });
      expect(run.error.message).toMatch(/^Invalid run options: speed: /);
      const events = await eventsOf(runId);
      expect(events.map((e) => `${e.type}#${e.attempt}`)).toEqual(["queued#0", "started#1", "finished#1"]);
    } finally {
      worker.kill("SIGTERM");
      await worker.exited;
    }
  });

  it("a recoverable error: the event's delay is the delay the queue gave the job", async () => {
    // A loopback port nothing listens on (freePort takes one, then releases it).
    const port = await freePort();
    const recording = { name: "unreachable", actions: [{ type: "navigate", url: `http://127.0.0.1:${port}/` }] };
    const worker = await stack.startWorker("w-seam-recoverable");
    try {
      const response = await stack.request("POST", "/api/runs", { recording });
      expect(response.status).toBe(202);
      const runId = response.body.id as string;
      const scheduled = await waitFor(async () => (await eventsOf(runId)).find((e) => e.type === "retry_scheduled"), {
        timeoutMs: 60_000,
        what: "a retry_scheduled event",
      });
      expect(scheduled.data).toMatchObject({ kind: "recoverable", delay: "backoff" });
      const delayMs = scheduled.data.delayMs as number;
      // Full jitter over the first step of the backoff: between half and all of the 10 min base.
      expect(delayMs).toBeGreaterThanOrEqual(300_000);
      expect(delayMs).toBeLessThanOrEqual(600_000);
      // The queue parks the job for exactly that long.
      await waitFor(async () => (await redis.zscore(`${stack.prefix}:runs:delayed`, runId)) !== null, {
        timeoutMs: 10_000,
        what: "the job in the delayed set",
      });
      expect(await jobDelay(runId)).toBe(delayMs);
    } finally {
      worker.kill("SIGTERM");
      await worker.exited;
    }
  });

  it("an error that is not a RunError (Postgres refusing a write) is transient: retried at once, as its event says", {
    timeout: 150_000,
  }, async () => {
    // Every action row is refused by the database: the attempt fails with a plain Postgres error.
    await stack.db.query(`
      create function conveyor_test_refuse() returns trigger language plpgsql as $$
      begin raise exception 'injected: action rows refused'; end $$`);
    await stack.db.query(
      "create trigger conveyor_test_refuse before insert on run_actions for each row execute function conveyor_test_refuse()",
    );
    const worker = await stack.startWorker("w-seam-transient");
    try {
      const response = await stack.request("POST", "/api/runs", { recording: loginRecording(site.url) });
      expect(response.status).toBe(202);
      const runId = response.body.id as string;
      // With a 10 min backoff base, reaching the second attempt at all shows no backoff was applied.
      const run = await stack.waitForRun(runId, ["passed", "failed", "errored", "cancelled"], 90_000);
      expect(run.status).toBe("errored");
      expect(run.attempt).toBe(2);
      const events = await eventsOf(runId);
      expect(events.map((e) => `${e.type}#${e.attempt}`)).toEqual([
        "queued#0",
        "started#1",
        "retry_scheduled#1",
        "started#2",
        "finished#2",
      ]);
      const scheduled = events[2];
      expect(scheduled?.data).toMatchObject({ kind: "transient", delay: "immediate", delayMs: 0 });
      expect(String(scheduled?.data.reason)).toMatch(/injected: action rows refused/);
      // The job was never delayed.
      expect(await jobDelay(runId)).toBe(0);
    } finally {
      worker.kill("SIGTERM");
      await worker.exited;
      await stack.db.query("drop trigger conveyor_test_refuse on run_actions");
    }
  });
});

describe("fenced endings", () => {
  it("a cancelled run's ending is discarded, and not reported finished, when a newer attempt owns the run", async () => {
    const response = await stack.request("POST", "/api/runs", { recording: loginRecording(site.url) });
    expect(response.status).toBe(202);
    const runId = response.body.id as string;
    // A cancel requested while an earlier attempt ran (its worker gone): the next claim ends the
    // run at once. Meanwhile another worker claims it too (a trigger plays that worker, bumping
    // the attempt right after this claim), so this attempt's ending must be discarded.
    await stack.db.query("update runs set cancel_requested_at = now() where id = $1", [runId]);
    await stack.db.query(`
      create function conveyor_test_overtake() returns trigger language plpgsql as $$
      begin update runs set attempt = new.attempt + 1 where id = new.id; return null; end $$`);
    await stack.db.query(`
      create trigger conveyor_test_overtake after update of status on runs for each row
      when (new.status = 'running' and old.status = 'queued') execute function conveyor_test_overtake()`);
    const worker = await stack.startWorker("w-seam-fenced");
    try {
      await worker.waitForOutput(new RegExp(`"runId":"${runId}".*this attempt's result was discarded`), 60_000);
      const lines = worker
        .output()
        .split("\n")
        .filter((line) => line.includes(runId));
      expect(lines.some((line) => line.includes('"msg":"run finished"'))).toBe(false);
      const [row] = await stack.db.query<{ status: string; attempt: number }>(
        "select status, attempt from runs where id = $1",
        [runId],
      );
      expect(row).toEqual({ status: "running", attempt: 2 });
      expect((await eventsOf(runId)).map((e) => e.type)).not.toContain("finished");
    } finally {
      worker.kill("SIGTERM");
      await worker.exited;
      await stack.db.query("drop trigger conveyor_test_overtake on runs");
    }
  });
});
