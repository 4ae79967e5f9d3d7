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
import { type BlockedRequestsRow, projectRunCounts, projects, type Run, runAttempts, runs } from "../schema.ts";
import { recordingQuarantinedNow, type Tx, transitionRun } from "./runs-transition.ts";
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

/** What a run's `run_attempts` row says of how an attempt ended (see {@link recordAttemptInTx}). */
export type AttemptStatus = TerminalStatus | "retried";

/**
 * Writes the `run_attempts` row of the attempt `run` is at (as returned by the transition that
 * ended it), in the caller's transaction: what it ended with and where its evidence is. `ended`
 * gives what the run's row does not hold (an attempt that was retried leaves the row `queued`);
 * otherwise the row's own columns are taken. A second write of the same attempt (a run the queue
 * gave up on while queued: its attempt was already recorded as retried) changes nothing.
 */
export async function recordAttemptInTx(
  tx: Tx,
  run: Run,
  status: AttemptStatus,
  ended: Partial<RunOutcome> = {},
): Promise<void> {
  if (run.attempt <= 0) return;
  const finishedAt = run.finishedAt ?? new Date();
  const durationMs =
    ended.durationMs ??
    run.durationMs ??
    (run.startedAt ? Math.max(0, finishedAt.getTime() - run.startedAt.getTime()) : null);
  const counts = ended.counts ?? {
    passed: run.actionsPassed,
    failed: run.actionsFailed,
    skipped: run.actionsSkipped,
  };
  const error =
    ended.error ??
    (run.errorKind !== null || run.errorMessage !== null
      ? {
          kind: run.errorKind ?? "transient",
          code: run.errorCode ?? undefined,
          message: run.errorMessage ?? "",
          actionIndex: run.failedActionIndex ?? undefined,
        }
      : undefined);
  await tx
    .insert(runAttempts)
    .values({
      runId: run.id,
      attempt: run.attempt,
      projectId: run.projectId,
      status,
      worker: run.worker,
      startedAt: run.startedAt,
      finishedAt,
      durationMs: durationMs === null ? null : Math.round(durationMs),
      actionsPassed: counts.passed,
      actionsFailed: counts.failed,
      actionsSkipped: counts.skipped,
      errorKind: error?.kind ?? null,
      errorCode: error?.code ?? null,
      errorMessage: error?.message ?? null,
      failedActionIndex: error?.actionIndex ?? null,
      artifacts: ended.artifacts ?? run.artifacts ?? {},
    })
    .onConflictDoNothing();
}

/**
 * Writes the terminal state of an attempt and its `run_attempts` row. Fenced: false when the
 * attempt is stale. A run that passed after failed attempts is marked `flaky`; a run whose
 * recording is quarantined now is marked `quarantined`. A suite run's child also settles its suite
 * run in the same transaction (failFast, held siblings released: see suite-flow.ts); what the
 * caller must then enqueue or withdraw is added to `effects`.
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
            flaky: outcome.status === "passed" ? sql`${runs.testFailures} > 0` : false,
            quarantined: recordingQuarantinedNow(),
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
          returnRun: true,
        }),
      effects,
    );
    if (updated) await recordAttemptInTx(tx, updated, outcome.status, outcome);
    return updated !== null;
  });
}

/**
 * Ends a failed attempt that has test-level retries left (`test_failures < retries`) without
 * ending the run: back to `queued` (fenced by attempt, like every write of an execution),
 * `test_failures` + 1, the attempt's `run_attempts` row (`retried`, with its evidence) and a
 * `retry_scheduled` event saying it was a test failure, in one transaction. Not a final
 * transition: the run's suite run is not settled (failFast fires only on a final failure). False
 * when the attempt is stale or no retry is left (then the caller finishes the run `failed`).
 */
export async function retryFailedAttempt(
  db: Db,
  projectId: string,
  runId: string,
  attempt: number,
  outcome: RunOutcome,
  worker: string,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const updated = await transitionRun(tx, {
      projectId,
      runId,
      from: ["running"],
      attempt,
      where: sql`${runs.testFailures} < ${runs.retries} and ${runs.cancelRequestedAt} is null`,
      set: { status: "queued", testFailures: sql`${runs.testFailures} + 1` },
      event: {
        type: "retry_scheduled",
        worker,
        data: {
          testFailure: true,
          kind: outcome.error?.kind ?? "test_failure",
          reason: outcome.error?.message ?? "the attempt failed",
          ...(outcome.error?.actionIndex === undefined ? {} : { actionIndex: outcome.error.actionIndex }),
          delayMs: 0,
        },
      },
      returnRun: true,
    });
    if (!updated) return false;
    await recordAttemptInTx(tx, updated, "retried", outcome);
    return true;
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
  /** How the attempt ended, for its `run_attempts` row (`retried`). Default: nothing but its start. */
  ended: Partial<RunOutcome> = {},
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const updated = await transitionRun(tx, {
      projectId,
      runId,
      from: ["running"],
      attempt,
      set: { status: "queued" },
      event: { type: event.type, worker: event.worker, data: event.data },
      returnRun: true,
    });
    if (updated) await recordAttemptInTx(tx, updated, "retried", ended);
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
            quarantined: recordingQuarantinedNow(),
            ...(options.deadLetter ? { deadLetteredAt: now } : {}),
          },
          event: {
            type: "finished",
            worker,
            data: { status: "errored", error, ...(options.deadLetter ? { deadLettered: true } : {}) },
          },
          returnRun: true,
        }),
      options.effects,
    );
    // The attempt it was at, unless that one was already recorded (retried, then given up on while queued).
    if (updated) await recordAttemptInTx(tx, updated, "errored", { error });
    return updated !== null;
  });
}
