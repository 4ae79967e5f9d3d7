/**
 * A run's life on the API side: created queued (one or a batch, with idempotency keys and the
 * project's queue limit), cancelled, retried as a new run. Every function takes `projectId` and
 * filters by it: tenant isolation lives here.
 */
import { newId, type RecordingInput, type RunOptionsInput } from "@conveyor/core";
import { and, eq } from "drizzle-orm";
import { type Db, queryPrepared } from "../client.ts";
import { type CiMetadataRow, type Run, runs } from "../schema.ts";
import { getRun } from "./runs-read.ts";
import { appendRunEvent, cancelQueuedRunInTx, requestRunCancelInTx } from "./runs-transition.ts";
import { endRunInTx, noSuiteEffects } from "./suite-flow.ts";

export interface CreateRunInput {
  recordingId: string | null;
  options: RunOptionsInput;
  recording: RecordingInput;
  actionsTotal: number;
  priority: number;
  timeoutMs: number;
  actionTimeoutMs: number;
  maxAttempts: number;
  /** Test-level retries (0–5): a failed attempt runs again this many times at most. Default 0. */
  retries?: number;
  variables: Record<string, string>;
  idempotencyKey?: string;
  requestHash?: string;
  /** CI metadata (commit, branch, build, URL) the run can be filtered by. Default: none. */
  ci?: CiMetadataRow;
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
    retries: input.retries ?? 0,
    timeout_ms: input.timeoutMs,
    action_timeout_ms: input.actionTimeoutMs,
    recording: input.recording,
    variables: input.variables,
    options: input.options,
    actions_total: input.actionsTotal,
    idempotency_key: input.idempotencyKey ?? null,
    request_hash: input.requestHash ?? null,
    ci: input.ci ?? null,
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
      recording_id text, priority integer, max_attempts integer, retries integer, timeout_ms integer, action_timeout_ms integer,
      recording jsonb, variables jsonb, options jsonb, actions_total integer, idempotency_key text, request_hash text,
      ci jsonb, created_at timestamptz)
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
    insert into runs (id, project_id, recording_id, status, priority, max_attempts, retries, timeout_ms,
      action_timeout_ms, recording, variables, options, actions_total, idempotency_key, request_hash, ci, created_at,
      updated_at)
    select id, project_id, recording_id, 'queued', priority, max_attempts, retries, timeout_ms, action_timeout_ms,
      recording, variables, options, actions_total, idempotency_key, request_hash, nullif(ci, 'null'::jsonb), created_at, created_at
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
    held: false,
    retries: input.retries ?? 0,
    testFailures: 0,
    flaky: false,
    quarantined: false,
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
    suiteRunId: null,
    ci: input.ci ?? null,
    scheduleId: null,
    createdAt,
    updatedAt: createdAt,
  };
}

/**
 * Cancels a run that has not started. Returns the run after the attempt and whether this call
 * cancelled it (false when it came too late: running, finished, or already cancelled). Null when
 * it does not exist. A suite run's child frees its slot: `released` are the held siblings this
 * released (queued, no job yet), whose jobs the caller adds.
 */
export async function cancelQueuedRun(
  db: Db,
  projectId: string,
  runId: string,
): Promise<{ run: Run; cancelled: boolean; released: Run[] } | null> {
  return db.transaction(async (tx) => {
    const effects = noSuiteEffects();
    const updated = await endRunInTx(
      tx,
      { projectId, runId, status: "cancelled" },
      () => cancelQueuedRunInTx(tx, { projectId, runId, message: "Cancelled before it started" }),
      effects,
    );
    if (updated) return { run: updated, cancelled: true, released: effects.release };
    const current = await getRun(tx, projectId, runId);
    return current ? { run: current, cancelled: false, released: [] } : null;
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
    const updated = await requestRunCancelInTx(tx, { projectId, runId });
    if (updated) return { run: updated, requested: true };
    const current = await getRun(tx, projectId, runId);
    return current ? { run: current, requested: false } : null;
  });
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
        retries: original.retries,
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
