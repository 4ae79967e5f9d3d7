/**
 * Runs, their actions and their event log. Every function takes `projectId` and filters by it:
 * tenant isolation lives here. Writes made on behalf of an execution also take its `attempt`,
 * the fencing token: they apply only while the run is still `running` that same attempt, so a
 * stale execution (a worker that lost its lock, a run handed back at shutdown) can never
 * overwrite what a newer one wrote.
 */
import {
  type ActionStatus,
  type ErrorKind,
  newId,
  type RecordingInput,
  type RunErrorCode,
  type RunEventType,
  type RunOptionsInput,
  type RunStatus,
  type TerminalStatus,
} from "@conveyor/core";
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { type Db, queryPrepared } from "../client.ts";
import {
  type BlockedRequestsRow,
  projectRunCounts,
  projects,
  type Run,
  type RunAction,
  type RunEvent,
  runActions,
  runEvents,
  runs,
} from "../schema.ts";
import { beforeCursor, type Page, toPage } from "./pagination.ts";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
type Executor = Db | Tx;

export interface CreateRunInput {
  recordingId: string | null;
  options: RunOptionsInput;
  recording: RecordingInput;
  actionsTotal: number;
  priority: number;
  timeoutMs: number;
  actionTimeoutMs: number;
  maxAttempts: number;
  variables: Record<string, string>;
  idempotencyKey?: string;
  requestHash?: string;
  /**
   * Refuse the run when its project already has this many runs queued (QueueFullError), checked
   * under a lock on the project's counts, so concurrent requests on several API replicas can never
   * admit more. Default: no limit.
   */
  maxQueuedRuns?: number;
}

/** The project already has `maxQueuedRuns` runs queued: the run was not created. */
export class QueueFullError extends Error {
  readonly maxQueuedRuns: number;
  constructor(maxQueuedRuns: number) {
    super(`This project already has ${maxQueuedRuns} runs queued (its maxQueuedRuns)`);
    this.maxQueuedRuns = maxQueuedRuns;
    this.name = "QueueFullError";
  }
}

/** Largest value of an integer column: "no limit". */
const NO_LIMIT = 2_147_483_647;

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

export interface CreateRunRequest {
  projectId: string;
  input: CreateRunInput;
}

export interface CreatedRun {
  run: Run;
  /** False when the idempotency key was already used: `run` is the run that holds it. */
  created: boolean;
}

/**
 * Inserts a queued run and its `queued` event. With an idempotency key that this project already
 * used, returns the existing run and `created: false` instead. One run of {@link createRuns}.
 */
export async function createRun(db: Db, projectId: string, input: CreateRunInput): Promise<CreatedRun> {
  const [result] = await createRuns(db, [{ projectId, input }]);
  if (result instanceof Error) throw result;
  if (!result) throw new Error("createRuns returned no result");
  return result;
}

/**
 * Inserts queued runs and their `queued` events: the write behind `POST /api/runs`, which the
 * API batches across concurrent requests (`Batcher`). One result per request, in order: the
 * created run, the existing run for a reused idempotency key (`created: false`), or the Error
 * that request alone met.
 *
 * The whole batch is one prepared statement (a data-modifying CTE over `jsonb_to_recordset`):
 * atomic, one round trip, one commit, with the same text for any batch size. A conflicting
 * idempotency key inserts nothing and writes no event (`on conflict do nothing` waits for a
 * concurrent insert of that key to commit or abort first); a second query reads the run that
 * holds the key. Should the batch statement fail, each request is retried alone, so one bad
 * request cannot fail the others.
 */
export async function createRuns(db: Db, requests: readonly CreateRunRequest[]): Promise<Array<CreatedRun | Error>> {
  if (requests.length === 0) return [];
  const now = new Date();
  const createdAt = now.toISOString();
  const rows = requests.map(({ projectId, input }, ord) => ({
    ord,
    max_queued: input.maxQueuedRuns ?? NO_LIMIT,
    id: newId("run", now.getTime()),
    project_id: projectId,
    recording_id: input.recordingId,
    priority: input.priority,
    max_attempts: input.maxAttempts,
    timeout_ms: input.timeoutMs,
    action_timeout_ms: input.actionTimeoutMs,
    recording: input.recording,
    variables: input.variables,
    options: input.options,
    actions_total: input.actionsTotal,
    idempotency_key: input.idempotencyKey ?? null,
    request_hash: input.requestHash ?? null,
    created_at: createdAt,
  }));
  let inserted: Record<string, unknown>[];
  try {
    inserted = await queryPrepared(db, CREATE_RUNS_SQL, [JSON.stringify(rows)]);
  } catch (error) {
    if (requests.length === 1) return [error instanceof Error ? error : new Error(String(error))];
    return Promise.all(requests.map(async (request) => (await createRuns(db, [request]))[0] as CreatedRun | Error));
  }
  const insertedIds = new Set(inserted.map((row) => row.id as string));
  return Promise.all(
    rows.map(async (row, i): Promise<CreatedRun | Error> => {
      if (insertedIds.has(row.id))
        return { run: newRunAsStored(requests[i] as CreateRunRequest, row.id, now), created: true };
      const { projectId, input } = requests[i] as CreateRunRequest;
      if (input.idempotencyKey === undefined) return new QueueFullError(input.maxQueuedRuns ?? NO_LIMIT);
      try {
        const [existing] = await db
          .select()
          .from(runs)
          .where(and(eq(runs.projectId, projectId), eq(runs.idempotencyKey, input.idempotencyKey ?? "")))
          .limit(1);
        // Not inserted and no run under its key: the project's queue was full.
        if (!existing) return new QueueFullError(input.maxQueuedRuns ?? NO_LIMIT);
        return { run: existing, created: false };
      } catch (error) {
        return error instanceof Error ? error : new Error(String(error));
      }
    }),
  );
}

/**
 * One statement for a batch of runs of any projects. `counts` locks each project's counts row
 * (in project order, so two batches never deadlock) and, being a locking read, sees the counts as
 * the last committed batch left them; a run is admitted while its project's queued runs, plus the
 * ones before it in this batch, stay within its `max_queued`. The insert's trigger then updates the
 * counts before the lock is released at commit.
 */
const CREATE_RUNS_SQL = `
  with input as (
    select * from jsonb_to_recordset($1::jsonb) as x(ord integer, max_queued integer, id text, project_id text,
      recording_id text, priority integer, max_attempts integer, timeout_ms integer, action_timeout_ms integer,
      recording jsonb, variables jsonb, options jsonb, actions_total integer, idempotency_key text, request_hash text,
      created_at timestamptz)
  ), counts as (
    select project_id, queued from project_run_counts
    where project_id in (select project_id from input)
    order by project_id
    for update
  ), admitted as (
    select i.* from (
      select input.*, row_number() over (partition by input.project_id order by input.ord) as position from input
    ) i
    left join counts c on c.project_id = i.project_id
    where coalesce(c.queued, 0) + i.position <= i.max_queued
  ), inserted as (
    insert into runs (id, project_id, recording_id, status, priority, max_attempts, timeout_ms, action_timeout_ms,
      recording, variables, options, actions_total, idempotency_key, request_hash, created_at, updated_at)
    select id, project_id, recording_id, 'queued', priority, max_attempts, timeout_ms, action_timeout_ms,
      recording, variables, options, actions_total, idempotency_key, request_hash, created_at, created_at
    from admitted
    on conflict (project_id, idempotency_key) where idempotency_key is not null do nothing
    returning id, project_id, priority, created_at
  ), event as (
    insert into run_events (run_id, project_id, type, attempt, data, created_at)
    select id, project_id, 'queued', 0, jsonb_build_object('priority', priority), created_at from inserted
  )
  select id from inserted`;

/**
 * The row `CREATE_RUNS_SQL` stored for a request, built here rather than read back: the
 * statement returns only ids, so the recording is not sent back and parsed again on every
 * `POST /api/runs`. Every column is either the request's or its default for a new run; a test
 * compares this with the row as drizzle reads it.
 */
function newRunAsStored({ projectId, input }: CreateRunRequest, id: string, createdAt: Date): Run {
  return {
    id,
    projectId,
    recordingId: input.recordingId,
    status: "queued",
    priority: input.priority,
    attempt: 0,
    maxAttempts: input.maxAttempts,
    timeoutMs: input.timeoutMs,
    actionTimeoutMs: input.actionTimeoutMs,
    recording: input.recording,
    variables: input.variables,
    options: input.options,
    deadLetteredAt: null,
    retryOf: null,
    cancelRequestedAt: null,
    idempotencyKey: input.idempotencyKey ?? null,
    requestHash: input.requestHash ?? null,
    worker: null,
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    actionsTotal: input.actionsTotal,
    actionsPassed: 0,
    actionsFailed: 0,
    actionsSkipped: 0,
    errorKind: null,
    errorCode: null,
    errorMessage: null,
    artifacts: {},
    failedActionIndex: null,
    createdAt,
    updatedAt: createdAt,
  };
}

export async function getRun(db: Executor, projectId: string, runId: string): Promise<Run | null> {
  const [row] = await db
    .select()
    .from(runs)
    .where(and(eq(runs.projectId, projectId), eq(runs.id, runId)))
    .limit(1);
  return row ?? null;
}

export async function listRuns(
  db: Db,
  projectId: string,
  options: { limit: number; status?: RunStatus[]; cursor?: { createdAt: Date; id: string } },
): Promise<Page<Run>> {
  const rows = await db
    .select()
    .from(runs)
    .where(
      and(
        eq(runs.projectId, projectId),
        options.status?.length ? inArray(runs.status, options.status) : undefined,
        options.cursor ? beforeCursor(runs.createdAt, runs.id, options.cursor) : undefined,
      ),
    )
    .orderBy(desc(runs.createdAt), desc(runs.id))
    .limit(options.limit + 1);
  return toPage(rows, options.limit);
}

/** Action results of one attempt, in recording order. */
export async function getRunActions(db: Db, projectId: string, runId: string, attempt: number): Promise<RunAction[]> {
  return db
    .select()
    .from(runActions)
    .where(and(eq(runActions.projectId, projectId), eq(runActions.runId, runId), eq(runActions.attempt, attempt)))
    .orderBy(asc(runActions.index));
}

export async function getRunEvents(db: Db, projectId: string, runId: string): Promise<RunEvent[]> {
  return db
    .select()
    .from(runEvents)
    .where(and(eq(runEvents.projectId, projectId), eq(runEvents.runId, runId)))
    .orderBy(asc(runEvents.id));
}

/**
 * Cancels a run that has not started. Returns the run after the attempt and whether this call
 * cancelled it (false when it came too late: running, finished, or already cancelled). Null when
 * it does not exist.
 */
export async function cancelQueuedRun(
  db: Db,
  projectId: string,
  runId: string,
): Promise<{ run: Run; cancelled: boolean } | null> {
  return db.transaction(async (tx) => {
    const [updated] = await tx
      .update(runs)
      .set({
        status: "cancelled",
        finishedAt: new Date(),
        errorKind: "cancelled",
        errorCode: null,
        errorMessage: "Cancelled before it started",
      })
      .where(and(eq(runs.projectId, projectId), eq(runs.id, runId), eq(runs.status, "queued")))
      .returning();
    if (updated) {
      await appendRunEvent(tx, projectId, runId, "cancelled", { attempt: updated.attempt, data: { while: "queued" } });
      return { run: updated, cancelled: true };
    }
    const current = await getRun(tx, projectId, runId);
    return current ? { run: current, cancelled: false } : null;
  });
}

/**
 * Asks for a running run to be cancelled: marks it (the worker that holds it, or the next one to
 * claim it, ends it `cancelled`) and logs `cancel_requested`. `requested` is false when the run
 * is not running or a cancel was already requested.
 */
export async function requestRunCancel(
  db: Db,
  projectId: string,
  runId: string,
): Promise<{ run: Run; requested: boolean } | null> {
  return db.transaction(async (tx) => {
    const [updated] = await tx
      .update(runs)
      .set({ cancelRequestedAt: new Date() })
      .where(
        and(
          eq(runs.projectId, projectId),
          eq(runs.id, runId),
          eq(runs.status, "running"),
          sql`${runs.cancelRequestedAt} is null`,
        ),
      )
      .returning();
    if (updated) {
      await appendRunEvent(tx, projectId, runId, "cancel_requested", { attempt: updated.attempt });
      return { run: updated, requested: true };
    }
    const current = await getRun(tx, projectId, runId);
    return current ? { run: current, requested: false } : null;
  });
}

// ---- Execution (worker side) ------------------------------------------------------------------

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
  const [claimed] = await tx
    .update(runs)
    .set({
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
    })
    .where(and(eq(runs.projectId, projectId), eq(runs.id, runId), inArray(runs.status, ["queued", "running"])))
    .returning();
  if (!claimed) return null;
  await appendRunEvent(tx, projectId, runId, "started", { attempt: claimed.attempt, worker });
  return claimed;
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

/** Writes the terminal state of an attempt. Fenced: false when the attempt is stale. */
export async function finishRun(
  db: Db,
  projectId: string,
  runId: string,
  attempt: number,
  outcome: RunOutcome,
  worker: string,
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [updated] = await tx
      .update(runs)
      .set({
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
      })
      .where(
        and(eq(runs.projectId, projectId), eq(runs.id, runId), eq(runs.attempt, attempt), eq(runs.status, "running")),
      )
      .returning({ id: runs.id });
    if (!updated) return false;
    await appendRunEvent(tx, projectId, runId, "finished", {
      attempt,
      worker,
      data: {
        status: outcome.status,
        durationMs: Math.round(outcome.durationMs),
        counts: outcome.counts,
        ...(outcome.error ? { error: outcome.error } : {}),
      },
    });
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
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const [updated] = await tx
      .update(runs)
      .set({ status: "queued" })
      .where(
        and(eq(runs.projectId, projectId), eq(runs.id, runId), eq(runs.attempt, attempt), eq(runs.status, "running")),
      )
      .returning({ id: runs.id });
    if (!updated) return false;
    await appendRunEvent(tx, projectId, runId, event.type, { attempt, worker: event.worker, data: event.data });
    return true;
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
  options: { deadLetter?: boolean } = {},
): Promise<boolean> {
  return db.transaction(async (tx) => {
    const now = new Date();
    const [updated] = await tx
      .update(runs)
      .set({
        status: "errored",
        finishedAt: now,
        errorKind: error.kind,
        errorCode: null,
        errorMessage: error.message,
        ...(options.deadLetter ? { deadLetteredAt: now } : {}),
      })
      .where(and(eq(runs.projectId, projectId), eq(runs.id, runId), inArray(runs.status, ["queued", "running"])))
      .returning({ attempt: runs.attempt });
    if (!updated) return false;
    await appendRunEvent(tx, projectId, runId, "finished", {
      attempt: updated.attempt,
      worker,
      data: { status: "errored", error, ...(options.deadLetter ? { deadLettered: true } : {}) },
    });
    return true;
  });
}

/** Runs of a project that the queue gave up on, newest first. */
export async function listDeadLetters(
  db: Db,
  projectId: string,
  options: { limit: number; cursor?: { createdAt: Date; id: string } },
): Promise<Page<Run>> {
  const rows = await db
    .select()
    .from(runs)
    .where(
      and(
        eq(runs.projectId, projectId),
        sql`${runs.deadLetteredAt} is not null`,
        options.cursor ? beforeCursor(runs.createdAt, runs.id, options.cursor) : undefined,
      ),
    )
    .orderBy(desc(runs.createdAt), desc(runs.id))
    .limit(options.limit + 1);
  return toPage(rows, options.limit);
}

/**
 * A new queued run made from a finished one: same recording snapshot, variables (still sealed),
 * options, priority and limits, linked by `retryOf`. Null when the original does not exist;
 * `{ notFinished }` when it has not finished.
 */
export async function createRetryRun(
  db: Db,
  projectId: string,
  originalId: string,
): Promise<{ run: Run } | { notFinished: Run } | null> {
  return db.transaction(async (tx) => {
    const original = await getRun(tx, projectId, originalId);
    if (!original) return null;
    if (original.status === "queued" || original.status === "running") return { notFinished: original };
    const now = new Date();
    const id = newId("run", now.getTime());
    const [run] = await tx
      .insert(runs)
      .values({
        id,
        projectId,
        recordingId: original.recordingId,
        status: "queued",
        priority: original.priority,
        maxAttempts: original.maxAttempts,
        timeoutMs: original.timeoutMs,
        actionTimeoutMs: original.actionTimeoutMs,
        recording: original.recording,
        variables: original.variables,
        options: original.options,
        actionsTotal: original.actionsTotal,
        retryOf: original.id,
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    if (!run) throw new Error("insert into runs returned no row");
    await appendRunEvent(tx, projectId, id, "queued", {
      data: { priority: run.priority, retryOf: original.id },
      at: now,
    });
    return { run };
  });
}

// ---- Reconciliation (system-wide maintenance) -------------------------------------------------

export interface UnfinishedRun {
  id: string;
  projectId: string;
  status: RunStatus;
  attempt: number;
  priority: number;
  maxAttempts: number;
}

/**
 * Runs still `queued` that were created before `queuedBefore`, and runs `running` that started
 * before `runningBefore`: the reconciler's candidates, oldest first. The one query that spans
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
        (${runs.status} = 'queued' and ${runs.createdAt} < ${options.queuedBefore.toISOString()}::timestamptz) or
        (${runs.status} = 'running' and ${runs.startedAt} < ${options.runningBefore.toISOString()}::timestamptz))`,
    )
    .orderBy(asc(runs.createdAt))
    .limit(options.limit);
}
