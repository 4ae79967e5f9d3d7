/**
 * Recovery of runs whose worker died: what the reconciler reads to find them and writes to hand
 * them back. Every write is fenced like an execution's own (the run must still be `running` the
 * same attempt on the same worker), so a worker that was only presumed dead — frozen, starved of
 * CPU — and comes back later cannot overwrite what the next attempt writes, and a run that moved on
 * meanwhile is left alone. The same holds for a queued run whose job was lost: its `requeued` event
 * is written only while it is still queued.
 */
import { and, asc, eq, inArray, lt, or, sql } from "drizzle-orm";
import type { Db } from "../client.ts";
import { runEvents, runs } from "../schema.ts";
import { recordAttemptInTx } from "./runs-execution.ts";
import { recordingQuarantinedNow, transitionRun } from "./runs-transition.ts";
import { alertRunEndInTx, lockSuiteRunOfRun, noSuiteEffects, settleSuiteRunInTx } from "./suite-flow.ts";

export interface RunningRun {
  id: string;
  projectId: string;
  attempt: number;
  priority: number;
  maxAttempts: number;
  /** The worker that claimed the current attempt. */
  worker: string | null;
  startedAt: Date | null;
}

/** Names of the workers that hold `running` runs now (the ones whose liveness matters). */
export async function findWorkersWithRunningRuns(db: Db): Promise<string[]> {
  const rows = await db
    .selectDistinct({ worker: runs.worker })
    .from(runs)
    .where(sql`${runs.status} = 'running' and ${runs.worker} is not null`);
  return rows.map((row) => row.worker).filter((worker): worker is string => worker !== null);
}

/**
 * Runs `running` whose current attempt started before `startedBefore`, oldest first: the
 * candidates for a liveness check of their worker. With `workers` and/or `claimedBefore`, only the
 * runs of those workers, or claimed before the given time by that worker (a worker restarted under
 * the same name since: those were claimed by its previous process). Spans projects, as
 * reconciliation does.
 */
export async function findRunningRuns(
  db: Db,
  options: {
    startedBefore: Date;
    limit: number;
    workers?: readonly string[];
    claimedBefore?: readonly { worker: string; before: Date }[];
  },
): Promise<RunningRun[]> {
  const filtered = options.workers !== undefined || options.claimedBefore !== undefined;
  const workers = options.workers ?? [];
  const claimed = options.claimedBefore ?? [];
  if (filtered && workers.length === 0 && claimed.length === 0) return [];
  const scope = filtered
    ? or(
        workers.length ? inArray(runs.worker, [...workers]) : undefined,
        ...claimed.map((c) => and(eq(runs.worker, c.worker), lt(runs.startedAt, c.before))),
      )
    : undefined;
  return db
    .select({
      id: runs.id,
      projectId: runs.projectId,
      attempt: runs.attempt,
      priority: runs.priority,
      maxAttempts: runs.maxAttempts,
      worker: runs.worker,
      startedAt: runs.startedAt,
    })
    .from(runs)
    .where(
      and(
        sql`${runs.status} = 'running' and ${runs.startedAt} < ${options.startedBefore.toISOString()}::timestamptz`,
        scope,
      ),
    )
    .orderBy(asc(runs.startedAt))
    .limit(options.limit);
}

/** What {@link handBackRunOfDeadWorker} did. */
export type HandBackOutcome =
  /** Back to `queued`, with a `requeued` event (`from: "running"`). */
  | "requeued"
  /** Its workers died `maxTakeovers` times already: ended `errored` and dead-lettered. */
  | "gave_up"
  /** Not `running` that attempt on that worker any more (finished, claimed again): untouched. */
  | "moved_on";

/**
 * Hands back a run whose worker is gone (silent past the liveness threshold): back to `queued`
 * with a `requeued` event, in one transaction, fenced by attempt and worker. A run already taken
 * back from dead workers `maxTakeovers` times (its earlier `requeued` events from `running`) is
 * not retried again: it ends `errored`, dead-lettered — a run that keeps killing its worker is not
 * retried forever (WORKER_MAX_STALLED_COUNT, the same limit BullMQ's stall detection applies).
 */
export async function handBackRunOfDeadWorker(
  db: Db,
  input: {
    projectId: string;
    runId: string;
    attempt: number;
    /** The worker presumed dead (the run's `worker`). */
    deadWorker: string;
    /** Who hands it back (written as the event's `worker`). */
    by: string;
    reason: string;
    maxTakeovers: number;
  },
): Promise<HandBackOutcome> {
  const { projectId, runId, attempt, deadWorker, by } = input;
  return db.transaction(async (tx) => {
    // Before the run's row (suite-flow.ts's lock order): a give-up below settles its suite run.
    const suiteRun = await lockSuiteRunOfRun(tx, projectId, runId);
    const fence = and(
      eq(runs.projectId, projectId),
      eq(runs.id, runId),
      eq(runs.attempt, attempt),
      eq(runs.status, "running"),
      eq(runs.worker, deadWorker),
    );
    const [locked] = await tx.select({ id: runs.id }).from(runs).where(fence).for("update");
    if (!locked) return "moved_on";
    const [previous] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(runEvents)
      .where(
        and(eq(runEvents.runId, runId), eq(runEvents.type, "requeued"), sql`${runEvents.data}->>'from' = 'running'`),
      );
    const takeovers = Number(previous?.n ?? 0);
    if (takeovers >= input.maxTakeovers) {
      const now = new Date();
      const error = {
        kind: "transient" as const,
        message: `its worker died ${takeovers + 1} time(s) while running it (limit WORKER_MAX_STALLED_COUNT = ${input.maxTakeovers}): ${input.reason}`,
      };
      const [ended] = await tx
        .update(runs)
        .set({
          status: "errored",
          finishedAt: now,
          errorKind: error.kind,
          errorCode: null,
          errorMessage: error.message,
          deadLetteredAt: now,
          quarantined: recordingQuarantinedNow(),
        })
        .where(fence)
        .returning();
      if (ended) await recordAttemptInTx(tx, ended, "errored", { error });
      await tx.insert(runEvents).values({
        runId,
        projectId,
        type: "finished",
        attempt,
        worker: by,
        data: { status: "errored", error, deadLettered: true },
      });
      // Its held siblings are released (or failFast cancels them) here; the reconciler's next
      // pass delivers the released ones (queued, no job) and a cancelled one's job is skipped.
      if (suiteRun) await settleSuiteRunInTx(tx, suiteRun, { runId, status: "errored" }, noSuiteEffects());
      await alertRunEndInTx(tx, projectId, runId, suiteRun?.id ?? null);
      return "gave_up";
    }
    const [requeued] = await tx.update(runs).set({ status: "queued" }).where(fence).returning();
    if (requeued) {
      await recordAttemptInTx(tx, requeued, "retried", {
        error: { kind: "transient", message: `its worker ${deadWorker} stopped: ${input.reason}` },
      });
    }
    await tx.insert(runEvents).values({
      runId,
      projectId,
      type: "requeued",
      attempt,
      worker: by,
      data: { reason: input.reason, from: "running", deadWorker },
    });
    return "requeued";
  });
}

/** Outcome of {@link requeueQueuedRun}. */
export type RequeueQueuedOutcome =
  /** The job was delivered and the `requeued` event written. */
  | "requeued"
  /** `deliver` delivered nothing (it said false): nothing written. */
  | "not_delivered"
  /** No longer `queued` at that attempt (a worker claimed it, it was cancelled): untouched. */
  | "moved_on";

class NotDelivered extends Error {}

/**
 * Re-delivers a queued run whose job was lost: locks the run while it is still `queued` at
 * `attempt`, calls `deliver` (which adds the new job) and writes the `requeued` event
 * (`from: "queued"`), committing both together. While the row is locked a worker that picks up
 * the new job waits to claim it, so the log always reads "requeued" before "started"; a run a
 * worker claimed just before (from a job it fetched before the loss) is left alone, and nothing
 * is added for it. When `deliver` returns false or throws, no event is written.
 */
export async function requeueQueuedRun(
  db: Db,
  input: { projectId: string; runId: string; attempt: number; by: string; reason: string },
  deliver: () => Promise<boolean>,
): Promise<RequeueQueuedOutcome> {
  const { projectId, runId, attempt, by, reason } = input;
  try {
    return await db.transaction(async (tx) => {
      const locked = await transitionRun(tx, {
        projectId,
        runId,
        from: ["queued"],
        attempt,
        // Nothing changes but the lock: the event is the record.
        set: { status: "queued" },
        event: { type: "requeued", worker: by, data: { reason, from: "queued" } },
      });
      if (!locked) return "moved_on";
      if (!(await deliver())) throw new NotDelivered();
      return "requeued";
    });
  } catch (error) {
    if (error instanceof NotDelivered) return "not_delivered";
    throw error;
  }
}
