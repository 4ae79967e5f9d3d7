/**
 * Reconciliation, the system's own housekeeping: finding runs that the queue may have lost. The
 * one query that spans projects besides authentication; what the reconciler then does to each
 * run goes through the project-scoped functions (runs-execution.ts).
 */
import type { RunStatus } from "@conveyor/core";
import { asc, sql } from "drizzle-orm";
import type { Db } from "../client.ts";
import { runs } from "../schema.ts";

export interface UnfinishedRun {
  id: string;
  projectId: string;
  status: RunStatus;
  attempt: number;
  priority: number;
  maxAttempts: number;
}

/**
 * Runs still `queued` that were created before `queuedBefore` (except held ones: a suite run's
 * runs waiting for a slot have no job on purpose), and runs `running` that started before
 * `runningBefore`: the reconciler's candidates, oldest first. The one query that spans
 * projects besides authentication: reconciliation is the system's own housekeeping, and what it
 * does to each run goes through the project-scoped functions.
 */
export async function findStaleUnfinishedRuns(
  db: Db,
  options: { queuedBefore: Date; runningBefore: Date; limit: number },
): Promise<UnfinishedRun[]> {
  return db
    .select({
      id: runs.id,
      projectId: runs.projectId,
      status: runs.status,
      attempt: runs.attempt,
      priority: runs.priority,
      maxAttempts: runs.maxAttempts,
    })
    .from(runs)
    .where(
      sql`${runs.status} in ('queued', 'running') and (
        (${runs.status} = 'queued' and not ${runs.held} and ${runs.createdAt} < ${options.queuedBefore.toISOString()}::timestamptz) or
        (${runs.status} = 'running' and ${runs.startedAt} < ${options.runningBefore.toISOString()}::timestamptz))`,
    )
    .orderBy(asc(runs.createdAt))
    .limit(options.limit);
}
