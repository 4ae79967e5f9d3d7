/**
 * The one way a run changes state: a conditional `update … returning` and, when it applied, the
 * event that says so, in the caller's transaction. Every function that moves a run (submit,
 * execution, reconcile) goes through {@link transitionRun}, so the fencing rules are written once.
 *
 * Every function takes `projectId` and filters by it: tenant isolation lives here.
 */
import type { RunEventType, RunStatus } from "@conveyor/core";
import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { PgUpdateSetSource } from "drizzle-orm/pg-core";
import type { Db } from "../client.ts";
import { type Run, recordings, runEvents, runs } from "../schema.ts";

/** A transaction of {@link Db}. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** A connection or a transaction: what a query that may run inside either takes. */
export type Executor = Db | Tx;

export async function appendRunEvent(
  db: Executor,
  projectId: string,
  runId: string,
  type: RunEventType,
  fields: { attempt?: number; worker?: string | null; data?: Record<string, unknown>; at?: Date } = {},
): Promise<void> {
  await db.insert(runEvents).values({
    ...(fields.at ? { createdAt: fields.at } : {}),
    runId,
    projectId,
    type,
    attempt: fields.attempt ?? 0,
    worker: fields.worker ?? null,
    data: fields.data ?? {},
  });
}

export interface RunTransition {
  projectId: string;
  runId: string;
  /** The statuses the run must be in for the transition to apply. */
  from: readonly RunStatus[];
  /**
   * The fencing token of a write made on behalf of an execution: the transition applies only
   * while the run is still at this attempt. Omitted: any attempt (an API request, the queue
   * giving up on the run).
   */
  attempt?: number;
  /** A further condition on the run's row (e.g. no cancel requested yet). */
  where?: SQL;
  /** The columns to write. */
  set: PgUpdateSetSource<typeof runs>;
  /**
   * The event logged when the transition applied. Its `attempt` is the run's attempt after the
   * update (equal to {@link RunTransition.attempt} when that is given).
   */
  event: { type: RunEventType; worker?: string | null; data?: Record<string, unknown> };
  /** Return the whole updated row instead of only its id and attempt. Default false. */
  returnRun?: boolean;
}

/**
 * Applies `transition` to the run when it is in one of the `from` statuses (and at `attempt`,
 * and matches `where`), then appends its event, both in `tx`. Returns the updated run (only its
 * id and attempt unless `returnRun`), or null, writing nothing, when the run did not qualify:
 * another transition came first, the attempt is stale, or it does not exist in this project.
 */
export async function transitionRun(tx: Tx, transition: RunTransition & { returnRun: true }): Promise<Run | null>;
export async function transitionRun(tx: Tx, transition: RunTransition): Promise<Pick<Run, "id" | "attempt"> | null>;
export async function transitionRun(tx: Tx, transition: RunTransition): Promise<Pick<Run, "id" | "attempt"> | null> {
  const { projectId, runId, attempt } = transition;
  const update = tx
    .update(runs)
    .set(transition.set)
    .where(
      and(
        eq(runs.projectId, projectId),
        eq(runs.id, runId),
        attempt === undefined ? undefined : eq(runs.attempt, attempt),
        transition.from.length === 1
          ? eq(runs.status, transition.from[0] as RunStatus)
          : inArray(runs.status, [...transition.from]),
        transition.where,
      ),
    );
  const [updated] = transition.returnRun
    ? await update.returning()
    : await update.returning({ id: runs.id, attempt: runs.attempt });
  if (!updated) return null;
  await appendRunEvent(tx, projectId, runId, transition.event.type, {
    attempt: updated.attempt,
    worker: transition.event.worker ?? null,
    data: transition.event.data ?? {},
  });
  return updated;
}

/**
 * Cancels a run that has not started, in `tx`: `queued` becomes `cancelled` with `message` as its
 * error, and its `cancelled` event (`while: "queued"` plus `data`) is logged. Null when the run
 * was not queued (started, finished or already cancelled).
 */
export function cancelQueuedRunInTx(
  tx: Tx,
  target: { projectId: string; runId: string; message: string; data?: Record<string, unknown>; at?: Date },
): Promise<Run | null> {
  return transitionRun(tx, {
    projectId: target.projectId,
    runId: target.runId,
    from: ["queued"],
    set: {
      status: "cancelled",
      finishedAt: target.at ?? new Date(),
      errorKind: "cancelled",
      errorCode: null,
      errorMessage: target.message,
    },
    event: { type: "cancelled", data: { while: "queued", ...target.data } },
    returnRun: true,
  });
}

/**
 * Asks for a running run to be cancelled, in `tx`: marks it (its worker ends it `cancelled`) and
 * logs `cancel_requested` with `data`. Null when the run is not running or was already asked.
 */
export function requestRunCancelInTx(
  tx: Tx,
  target: { projectId: string; runId: string; data?: Record<string, unknown>; at?: Date },
): Promise<Run | null> {
  return transitionRun(tx, {
    projectId: target.projectId,
    runId: target.runId,
    from: ["running"],
    where: sql`${runs.cancelRequestedAt} is null`,
    set: { cancelRequestedAt: target.at ?? new Date() },
    event: { type: "cancel_requested", ...(target.data ? { data: target.data } : {}) },
    returnRun: true,
  });
}

/**
 * Whether the run's recording is quarantined now: what a final transition writes into
 * `runs.quarantined` (a quarantine that expired is no quarantine: reads compare with now).
 */
export function recordingQuarantinedNow() {
  return sql<boolean>`exists (select 1 from ${recordings} where ${recordings.id} = ${runs.recordingId}
    and ${recordings.projectId} = ${runs.projectId} and ${recordings.quarantinedUntil} > now())`;
}
