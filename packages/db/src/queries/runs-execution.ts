/**
 * A run's life on the worker side: claimed (within the project's concurrency limit), its action
 * results recorded, finished, handed back, or ended `errored` when the queue gives up on it.
 * Every function takes `projectId` and filters by it: tenant isolation lives here. Writes made on
 * behalf of an execution also take its `attempt`, the fencing token: they apply only while the
 * run is still `running` that same attempt, so a stale execution (a worker that lost its lock, a
 * run handed back at shutdown) can never overwrite what a newer one wrote.
 */
import type { ActionStatus, ErrorKind, RunErrorCode, TerminalStatus } from "@conveyor/core";
import { and, eq, sql } from "drizzle-orm";
import { type Db, queryPrepared } from "../client.ts";
import { type BlockedRequestsRow, projectRunCounts, projects, type Run, runs } from "../schema.ts";
import { type Tx, transitionRun } from "./runs-transition.ts";
import { endRunInTx, type SuiteEffects } from "./suite-flow.ts";

/**
 * Claims a run for execution: queued (or running, when a previous holder died and the queue
 * redelivered it) → running, attempt + 1. Returns the claimed run, or null when it no longer
 * needs executing (cancelled, finished, deleted).
 */
export async function claimRun(db: Db, projectId: string, runId: string, worker: string): Promise<Run | null> {
  return db.transaction((tx) => claimIn(tx, projectId, runId, worker));
}

/**
 * {@link claimRun}, unless the project already has as many runs executing as it may
 * (`limits.maxConcurrentRuns`, else `defaultMaxConcurrentRuns`; 0 means no limit): then
 * `"at_capacity"`, and the run stays queued for the worker to hand back. Read under a lock on the
 * project's counts, so two workers can never both take the last slot. A run redelivered while
 * `running` (its worker died) already holds its slot and is claimed regardless.
 */
export async function claimRunWithinLimit(
  db: Db,
  projectId: string,
  runId: string,
  worker: string,
  defaultMaxConcurrentRuns: number,
): Promise<Run | null | "at_capacity"> {
  return db.transaction(async (tx) => {
    const [limit] = await tx
      .select({
        running: projectRunCounts.running,
        max: sql<number>`coalesce((${projects.limits}->>'maxConcurrentRuns')::integer, ${defaultMaxConcurrentRuns})`,
      })
      .from(projectRunCounts)
      .innerJoin(projects, eq(projects.id, projectRunCounts.projectId))
      .where(eq(projectRunCounts.projectId, projectId))
      .for("update", { of: projectRunCounts });
    if (limit && Number(limit.max) > 0 && limit.running >= Number(limit.max)) {
      const [run] = await tx
        .select({ status: runs.status })
        .from(runs)
        .where(and(eq(runs.projectId, projectId), eq(runs.id, runId)));
      if (run?.status === "queued") return "at_capacity";
    }
    return claimIn(tx, projectId, runId, worker);
  });
}

async function claimIn(tx: Tx, projectId: string, runId: string, worker: string): Promise<Run | null> {
  return transitionRun(tx, {
    projectId,
    runId,
    from: ["queued", "running"],
    // A held run (a suite run's, waiting for a slot of its maxParallel) has no job and is not
    // claimed even if one appears: it is claimed once released.
    where: sql`not ${runs.held}`,
    set: {
      status: "running",
      attempt: sql`${runs.attempt} + 1`,
      worker,
      startedAt: new Date(),
      finishedAt: null,
      durationMs: null,
      actionsPassed: 0,
      actionsFailed: 0,
      actionsSkipped: 0,
      errorKind: null,
      errorCode: null,
      errorMessage: null,
      failedActionIndex: null,
    },
    event: { type: "started", worker },
    returnRun: true,
  });
}

export interface ActionResultRow {
  index: number;
  actionId: string;
  type: string;
  status: ActionStatus;
  startedAt: Date;
  durationMs: number;
  selectorUsed?: string | null;
  selectorsTried?: string[] | null;
  pageUrl?: string | null;
  errorKind?: ErrorKind | null;
  errorCode?: RunErrorCode | null;
  errorMessage?: string | null;
  screenshotKey?: string | null;
  blockedRequests?: BlockedRequestsRow | null;
}

/**
 * Records one action's result for the given attempt. Idempotent (a redelivered write is a no-op)
 * and fenced: returns false, writing nothing, when the attempt is no longer the run's current one.
 */
export async function recordActionResult(
  db: Db,
  projectId: string,
  runId: string,
  attempt: number,
  result: ActionResultRow,
): Promise<boolean> {
  const inserted = await queryPrepared(db, RECORD_ACTION_SQL, [
    runId,
    attempt,
    result.index,
    projectId,
    result.actionId,
    result.type,
    result.status,
    result.startedAt.toISOString(),
    Math.round(result.durationMs),
    result.selectorUsed ?? null,
    result.selectorsTried ? JSON.stringify(result.selectorsTried) : null,
    result.pageUrl ?? null,
    result.errorKind ?? null,
    result.errorMessage ?? null,
    result.screenshotKey ?? null,
    result.errorCode ?? null,
    result.blockedRequests ? JSON.stringify(result.blockedRequests) : null,
  ]);
  return inserted.length > 0;
}

/** Prepared: it runs once per action of every run. */
const RECORD_ACTION_SQL = `
  insert into run_actions (run_id, attempt, index, project_id, action_id, type, status, started_at, duration_ms,
    selector_used, selectors_tried, page_url, error_kind, error_message, screenshot_key, error_code, blocked_requests)
  select $1, $2, $3, $4, $5, $6, $7, $8::timestamptz, $9, $10, $11::jsonb, $12, $13, $14, $15, $16, $17::jsonb
  where exists (
    select 1 from runs where id = $1 and project_id = $4 and attempt = $2 and status = 'running'
  )
  on conflict do nothing
  returning 1 as ok`;

export interface RunOutcome {
  status: TerminalStatus;
  /** Keys of the attempt's video and trace, when recorded. */
  artifacts?: { video?: string; trace?: string } | undefined;
  durationMs: number;
  counts: { passed: number; failed: number; skipped: number };
  error?:
    | { kind: ErrorKind; code?: RunErrorCode | undefined; message: string; actionIndex?: number | undefined }
    | undefined;
}

/**
 * Writes the terminal state of an attempt. Fenced: false when the attempt is stale. A suite run's
 * child also settles its suite run in the same transaction (failFast, held siblings released: see
 * suite-flow.ts); what the caller must then enqueue or withdraw is added to `effects`.
 */
export async function finishRun(
  db: Db,
  projectId: string,
  runId: string,
  attempt: number,
  outcome: RunOutcome,
  worker: string,
  effects?: SuiteEffects,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const updated = await endRunInTx(
      tx,
      { projectId, runId, status: outcome.status },
      () =>
        transitionRun(tx, {
          projectId,
          runId,
          from: ["running"],
          attempt,
          set: {
            status: outcome.status,
            finishedAt: new Date(),
            durationMs: Math.round(outcome.durationMs),
            actionsPassed: outcome.counts.passed,
            actionsFailed: outcome.counts.failed,
            actionsSkipped: outcome.counts.skipped,
            errorKind: outcome.error?.kind ?? null,
            errorCode: outcome.error?.code ?? null,
            errorMessage: outcome.error?.message ?? null,
            failedActionIndex: outcome.error?.actionIndex ?? null,
            artifacts: outcome.artifacts ?? {},
          },
          event: {
            type: "finished",
            worker,
            data: {
              status: outcome.status,
              durationMs: Math.round(outcome.durationMs),
              counts: outcome.counts,
              ...(outcome.error ? { error: outcome.error } : {}),
            },
          },
        }),
      effects,
    );
    return updated !== null;
  });
}

/**
 * Puts a running attempt back to `queued` (shutdown hand-back, or a retry after an infrastructure
 * error) and logs why. Fenced: false when the attempt is stale.
 */
export async function requeueRun(
  db: Db,
  projectId: string,
  runId: string,
  attempt: number,
  event: { type: "handed_back" | "retry_scheduled" | "requeued"; worker: string; data: Record<string, unknown> },
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const updated = await transitionRun(tx, {
      projectId,
      runId,
      from: ["running"],
      attempt,
      set: { status: "queued" },
      event: { type: event.type, worker: event.worker, data: event.data },
    });
    return updated !== null;
  });
}

/**
 * Ends a run the queue gave up on (retries or stall limit exhausted) as `errored`, whatever
 * attempt holds it, unless it already reached a terminal state.
 */
export async function failUnfinishedRun(
  db: Db,
  projectId: string,
  runId: string,
  error: { kind: ErrorKind; message: string },
  worker: string,
  options: {
    deadLetter?: boolean;
    /**
     * Only while the run is at this attempt (a worker ending its own attempt: a newer attempt's
     * claim makes this a no-op). Omitted: whatever the attempt (the queue giving up on a job).
     */
    attempt?: number;
    /** A suite run's child: what the caller enqueues or withdraws after the commit (see {@link finishRun}). */
    effects?: SuiteEffects;
  } = {},
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const now = new Date();
    const updated = await endRunInTx(
      tx,
      { projectId, runId, status: "errored" },
      () =>
        transitionRun(tx, {
          projectId,
          runId,
          from: ["queued", "running"],
          ...(options.attempt === undefined ? {} : { attempt: options.attempt }),
          set: {
            status: "errored",
            finishedAt: now,
            errorKind: error.kind,
            errorCode: null,
            errorMessage: error.message,
            ...(options.deadLetter ? { deadLetteredAt: now } : {}),
          },
          event: {
            type: "finished",
            worker,
            data: { status: "errored", error, ...(options.deadLetter ? { deadLettered: true } : {}) },
          },
        }),
      options.effects,
    );
    return updated !== null;
  });
}
