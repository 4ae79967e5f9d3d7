/**
 * A suite run's held runs (maxParallel) and the workers' side, on real Postgres and Redis: the
 * reconciler never enqueues a held run, but does deliver one once a sibling's end released it (the
 * safety net when its releaser's enqueue was lost); a run the reconciler gives up on (its workers
 * kept dying) releases its held sibling, or with failFast cancels those not started.
 */
import { randomBytes } from "node:crypto";
import { createLogger, RUNS_QUEUE } from "@conveyor/core";
import {
  claimRun,
  createProject,
  createSuiteRun,
  handBackRunOfDeadWorker,
  insertRecording,
  insertSuite,
  type Run,
  type Suite,
} from "@conveyor/db";
import { createTestDatabase, type TestDatabase } from "@conveyor/db/testing";
import { Queue } from "bullmq";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Reconciler } from "../src/reconciler.ts";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `cvt-suite-flow-${randomBytes(4).toString("hex")}`;
const logger = createLogger({ level: "silent" });

let db: TestDatabase;
let redis: Redis;
let queue: Queue;
let projectId: string;

beforeAll(async () => {
  db = await createTestDatabase("suite-flow");
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  queue = new Queue(RUNS_QUEUE, { connection: redis, prefix });
  projectId = (await createProject(db.db, { name: "suite-flow" })).project.id;
});

afterAll(async () => {
  await queue?.obliterate({ force: true }).catch(() => undefined);
  await queue?.close();
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis?.disconnect();
  await db?.drop();
});

let suites = 0;

/** A suite run of `n` children (no job added for any of them). */
async function suiteRun(n: number, fields: { maxParallel: number | null; failFast?: boolean }): Promise<Run[]> {
  suites += 1;
  const recording = { name: "r", actions: [{ type: "navigate" as const, url: "http://127.0.0.1:1/" }] };
  const stored = await insertRecording(db.db, projectId, {
    name: "r",
    recording,
    sourceFormat: "conveyor",
    actionCount: 1,
  });
  const suite: Suite = await insertSuite(db.db, projectId, {
    name: `suite-${suites}`,
    recordingIds: [stored.id],
    tagQuery: null,
    defaults: {},
    maxParallel: fields.maxParallel,
    failFast: fields.failFast ?? false,
  });
  const created = await createSuiteRun(db.db, projectId, {
    suite,
    children: Array.from({ length: n }, () => ({
      recordingId: stored.id,
      recording,
      actionsTotal: 1,
      priority: 5,
      timeoutMs: 60_000,
      actionTimeoutMs: 5_000,
      maxAttempts: 2,
      options: {},
    })),
  });
  return created.runs;
}

function reconciler(): Reconciler {
  return new Reconciler({
    db,
    connection: redis,
    prefix,
    logger,
    name: "w-reconciler",
    intervalMs: 1000,
    graceMs: 1000,
    backoffMs: 100,
  });
}

async function state(runId: string) {
  const [row] = await db.query<{ status: string; held: boolean }>("select status, held from runs where id = $1", [
    runId,
  ]);
  return row;
}

describe("held runs and the reconciler", () => {
  it("a held run is never enqueued by the reconciler; once released, the reconciler delivers it", async () => {
    const [first, second, third] = (await suiteRun(3, { maxParallel: 1 })) as [Run, Run, Run];
    expect([first.held, second.held, third.held]).toEqual([false, true, true]);
    const r = reconciler();
    try {
      // Long past the grace period: only the unheld run is "queued without a job".
      const later = new Date(Date.now() + 60_000);
      expect(await r.pass(later)).toEqual([first.id]);
      expect(await queue.getJobState(second.id)).toBe("unknown");
      expect(await queue.getJobState(third.id)).toBe("unknown");
      expect(await r.pass(later)).toEqual([]);

      // The first is given up on (its workers kept dying): the second is released in that
      // transaction; nobody added its job, so the reconciler's next pass does.
      const claimed = await claimRun(db.db, projectId, first.id, "w-dead");
      expect(
        await handBackRunOfDeadWorker(db.db, {
          projectId,
          runId: first.id,
          attempt: claimed?.attempt ?? 0,
          deadWorker: "w-dead",
          by: "w-reconciler",
          reason: "test",
          maxTakeovers: 0,
        }),
      ).toBe("gave_up");
      expect(await state(second.id)).toEqual({ status: "queued", held: false });
      expect(await state(third.id)).toEqual({ status: "queued", held: true });
      expect(await r.pass(later)).toEqual([second.id]);
      expect((await queue.getJob(second.id))?.opts.attempts).toBe(2);
      expect(await queue.getJobState(third.id)).toBe("unknown");
    } finally {
      await r.stop();
    }
  });

  it("with failFast, a run given up on cancels its siblings that have not started, held or not", async () => {
    const [first, second, third] = (await suiteRun(3, { maxParallel: 2, failFast: true })) as [Run, Run, Run];
    const claimed = await claimRun(db.db, projectId, first.id, "w-dead");
    expect(
      await handBackRunOfDeadWorker(db.db, {
        projectId,
        runId: first.id,
        attempt: claimed?.attempt ?? 0,
        deadWorker: "w-dead",
        by: "w-reconciler",
        reason: "test",
        maxTakeovers: 0,
      }),
    ).toBe("gave_up");
    expect(await state(first.id)).toEqual({ status: "errored", held: false });
    expect(await state(second.id)).toEqual({ status: "cancelled", held: false });
    expect(await state(third.id)).toEqual({ status: "cancelled", held: true });
    const [suiteRunRow] = await db.query<{ failed_fast_at: Date | null }>(
      "select failed_fast_at from suite_runs where id = $1",
      [first.suiteRunId],
    );
    expect(suiteRunRow?.failed_fast_at).not.toBeNull();
  });
});
