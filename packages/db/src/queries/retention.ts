/**
 * Run-history retention (RUN_RETENTION_DAYS): finished runs older than the cutoff go, with their
 * actions and events (foreign keys cascade), then suite runs left without runs and the schedules'
 * fire log of that age. In batches, each its own statement, so a large backlog never holds a long
 * transaction or a lock on many rows, and a stop between batches loses nothing.
 */
import { TERMINAL_STATUSES } from "@conveyor/core";
import { and, inArray, lt, sql } from "drizzle-orm";
import type { Db } from "../client.ts";
import { runs, scheduleFires, suiteRuns } from "../schema.ts";

export interface PruneOptions {
  /** Runs that finished before this go (suite runs created before it, fires logged before it). */
  olderThan: Date;
  /** Rows per statement. Default 500. */
  batchSize?: number;
  /** Checked between batches: the prune stops (rejects with its reason) when aborted. */
  signal?: AbortSignal;
}

export interface PruneResult {
  runs: number;
  suiteRuns: number;
  scheduleFires: number;
}

/** Deletes the run history older than `olderThan`, batch by batch; returns how many rows of each went. */
export async function pruneRunHistory(db: Db, options: PruneOptions): Promise<PruneResult> {
  const batchSize = options.batchSize ?? 500;
  const result: PruneResult = { runs: 0, suiteRuns: 0, scheduleFires: 0 };
  const until = async (step: () => Promise<number>, key: keyof PruneResult) => {
    for (;;) {
      options.signal?.throwIfAborted();
      const deleted = await step();
      result[key] += deleted;
      if (deleted < batchSize) return;
    }
  };
  await until(async () => {
    const batch = db
      .select({ id: runs.id })
      .from(runs)
      .where(and(lt(runs.finishedAt, options.olderThan), inArray(runs.status, [...TERMINAL_STATUSES])))
      .orderBy(runs.finishedAt)
      .limit(batchSize);
    const deleted = await db.delete(runs).where(inArray(runs.id, batch)).returning({ id: runs.id });
    return deleted.length;
  }, "runs");
  await until(async () => {
    const batch = db
      .select({ id: suiteRuns.id })
      .from(suiteRuns)
      .where(
        and(
          lt(suiteRuns.createdAt, options.olderThan),
          sql`not exists (select 1 from ${runs} where ${runs.suiteRunId} = ${suiteRuns.id})`,
        ),
      )
      .limit(batchSize);
    const deleted = await db.delete(suiteRuns).where(inArray(suiteRuns.id, batch)).returning({ id: suiteRuns.id });
    return deleted.length;
  }, "suiteRuns");
  await until(async () => {
    const batch = db
      .select({ id: scheduleFires.id })
      .from(scheduleFires)
      .where(lt(scheduleFires.firedAt, options.olderThan))
      .orderBy(scheduleFires.id)
      .limit(batchSize);
    const deleted = await db
      .delete(scheduleFires)
      .where(inArray(scheduleFires.id, batch))
      .returning({ id: scheduleFires.id });
    return deleted.length;
  }, "scheduleFires");
  return result;
}
