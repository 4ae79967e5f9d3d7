/**
 * What a suite run's child reaching a final state does to its siblings: with `failFast`, a failed
 * or errored child cancels the siblings that have not started; with `maxParallel`, held siblings
 * (queued, no job yet) are released in the suite's order into the slots that are free.
 *
 * Lock order: a transaction that changes a suite run's children locks the suite run's row first
 * ({@link lockSuiteRunOfRun}, or `cancelSuiteRun`'s update), then the children's rows. Two siblings
 * finishing at once are so taken one after the other (the second sees the first's release, and
 * no slot is lost or given twice), and a finish never deadlocks with a suite run's cancel.
 *
 * Every function takes `projectId` and filters by it: tenant isolation lives here.
 */
import type { RunStatus } from "@conveyor/core";
import { and, eq, inArray, sql } from "drizzle-orm";
import { type Run, runs, type SuiteRun, suiteRuns } from "../schema.ts";
import { alertOnRunEndInTx, alertOnSuiteRunEndInTx, hasAlertRules } from "./alerts.ts";
import { cancelQueuedRunInTx, type Tx } from "./runs-transition.ts";

/** What the caller of a final transition does after its commit: add the released runs' jobs, remove the cancelled ones'. */
export interface SuiteEffects {
  /** Runs released from hold (queued, no job yet): the caller enqueues them. */
  release: Run[];
  /** Runs failFast cancelled while queued: the caller removes their jobs. */
  withdraw: string[];
}

export function noSuiteEffects(): SuiteEffects {
  return { release: [], withdraw: [] };
}

/**
 * Locks (`for update`) the suite run `runId` is a child of, and returns it; null when the run is
 * no suite run's child (or does not exist). Called before the run's own row is changed.
 */
export async function lockSuiteRunOfRun(tx: Tx, projectId: string, runId: string): Promise<SuiteRun | null> {
  const [row] = await tx
    .select({ suiteRun: suiteRuns })
    .from(suiteRuns)
    .innerJoin(runs, eq(runs.suiteRunId, suiteRuns.id))
    .where(and(eq(runs.projectId, projectId), eq(runs.id, runId), eq(suiteRuns.projectId, projectId)))
    .for("update", { of: suiteRuns });
  return row?.suiteRun ?? null;
}

/**
 * Locks the suite runs the given runs are children of, in id order (so that two transactions
 * locking several never wait on each other in a cycle).
 */
export async function lockSuiteRunsOfRuns(tx: Tx, projectId: string, runIds: readonly string[]): Promise<void> {
  if (runIds.length === 0) return;
  await tx
    .select({ id: suiteRuns.id })
    .from(suiteRuns)
    .where(
      and(
        eq(suiteRuns.projectId, projectId),
        inArray(
          suiteRuns.id,
          tx
            .select({ id: runs.suiteRunId })
            .from(runs)
            .where(and(eq(runs.projectId, projectId), inArray(runs.id, [...runIds]))),
        ),
      ),
    )
    .orderBy(suiteRuns.id)
    .for("update");
}

/**
 * After a child of `suiteRun` (locked by the caller) reached the final `status` in `tx`: fails
 * the suite run fast (failFast and `failed`/`errored`: every queued sibling, held or not, is
 * cancelled and `failed_fast_at` set; running ones finish), else releases held siblings, in the
 * suite's order, into the free slots of `maxParallel` (children running, or queued and not held).
 * What the caller must do after the commit is added to `effects`.
 */
export async function settleSuiteRunInTx(
  tx: Tx,
  suiteRun: SuiteRun,
  finished: { runId: string; status: RunStatus },
  effects: SuiteEffects,
): Promise<void> {
  const { projectId } = suiteRun;
  if (
    suiteRun.failFast &&
    (finished.status === "failed" || finished.status === "errored") &&
    // A quarantined recording's failure fails nothing (its final transition marked the run).
    !(await endedQuarantined(tx, projectId, finished.runId))
  ) {
    const now = new Date();
    if (suiteRun.failedFastAt === null) {
      await tx
        .update(suiteRuns)
        .set({ failedFastAt: now, updatedAt: now })
        .where(and(eq(suiteRuns.projectId, projectId), eq(suiteRuns.id, suiteRun.id)));
    }
    const queued = await tx
      .select({ id: runs.id })
      .from(runs)
      .where(and(eq(runs.projectId, projectId), eq(runs.suiteRunId, suiteRun.id), eq(runs.status, "queued")));
    for (const sibling of queued) {
      const done = await cancelQueuedRunInTx(tx, {
        projectId,
        runId: sibling.id,
        message: `Cancelled before it started: run ${finished.runId} of its suite run ${finished.status} (failFast)`,
        data: { suiteRunId: suiteRun.id, failFast: true, failedRunId: finished.runId },
        at: now,
      });
      if (done) effects.withdraw.push(done.id);
    }
    return;
  }
  if (suiteRun.maxParallel === null || suiteRun.cancelledAt !== null) return;
  const [active] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(runs)
    .where(
      and(
        eq(runs.projectId, projectId),
        eq(runs.suiteRunId, suiteRun.id),
        sql`(${runs.status} = 'running' or (${runs.status} = 'queued' and not ${runs.held}))`,
      ),
    );
  const free = suiteRun.maxParallel - Number(active?.n ?? 0);
  if (free <= 0) return;
  const next = await tx
    .select({ id: runs.id })
    .from(runs)
    .where(
      and(
        eq(runs.projectId, projectId),
        eq(runs.suiteRunId, suiteRun.id),
        eq(runs.status, "queued"),
        sql`${runs.held}`,
      ),
    )
    .orderBy(sql`array_position(${sql.param(suiteRun.runIds)}::text[], ${runs.id})`)
    .limit(free);
  if (next.length === 0) return;
  const released = await tx
    .update(runs)
    .set({ held: false, updatedAt: new Date() })
    .where(
      and(
        eq(runs.projectId, projectId),
        inArray(
          runs.id,
          next.map((r) => r.id),
        ),
        eq(runs.status, "queued"),
        sql`${runs.held}`,
      ),
    )
    .returning();
  const order = new Map(suiteRun.runIds.map((id, i) => [id, i]));
  released.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  effects.release.push(...released);
}

/** Whether the run ended while its recording was quarantined (`runs.quarantined`, set by its final transition). */
async function endedQuarantined(tx: Tx, projectId: string, runId: string): Promise<boolean> {
  const [row] = await tx
    .select({ quarantined: runs.quarantined })
    .from(runs)
    .where(and(eq(runs.projectId, projectId), eq(runs.id, runId)));
  return row?.quarantined ?? false;
}

/**
 * {@link lockSuiteRunOfRun}, then the caller's final `transition` of the run (to `status`), then
 * {@link settleSuiteRunInTx} when it applied: the shape of every path that ends a run. Returns
 * what `transition` returned (null: it did not apply).
 */
export async function endRunInTx<T>(
  tx: Tx,
  target: { projectId: string; runId: string; status: RunStatus },
  transition: () => Promise<T | null>,
  effects: SuiteEffects = noSuiteEffects(),
): Promise<T | null> {
  const suiteRun = await lockSuiteRunOfRun(tx, target.projectId, target.runId);
  const result = await transition();
  if (result === null) return result;
  if (suiteRun) await settleSuiteRunInTx(tx, suiteRun, { runId: target.runId, status: target.status }, effects);
  await alertRunEndInTx(tx, target.projectId, target.runId, suiteRun?.id ?? null);
  return result;
}

/**
 * The alerts of a run that reached its final status in `tx` (and of its suite run, when that was
 * its last unfinished run; the suite run's row is locked by the caller). Every final transition
 * calls it: {@link endRunInTx}, and the give-up on a run whose workers kept dying.
 */
export async function alertRunEndInTx(
  tx: Tx,
  projectId: string,
  runId: string,
  suiteRunId: string | null,
): Promise<void> {
  await alertInSavepoint(tx, projectId, runId, async (savepoint) => {
    await alertOnRunEndInTx(savepoint, projectId, runId);
    if (suiteRunId) await alertOnSuiteRunEndInTx(savepoint, projectId, suiteRunId);
  });
}

/**
 * Alerts are evaluated in a savepoint of the run's final transition: their notifications commit
 * with it (the outbox), but a failing evaluation never costs the run its result. Such a failure
 * is reported as a process warning (the worker's stderr) and the alert is lost.
 */
async function alertInSavepoint(
  tx: Tx,
  projectId: string,
  runId: string,
  evaluate: (savepoint: Tx) => Promise<void>,
): Promise<void> {
  // Most projects have no rule: one indexed read, and no savepoint.
  if (!(await hasAlertRules(tx, projectId))) return;
  try {
    await tx.transaction(evaluate);
  } catch (error) {
    process.emitWarning(
      `alert evaluation failed for run ${runId}: ${error instanceof Error ? error.message : String(error)}`,
      "ConveyorAlertWarning",
    );
  }
}
