/**
 * A recording's health over time: the daily rollup the `stats-rollup` service task keeps
 * (`recording_stats_daily`, folded in from finished runs after a cursor in `rollup_cursors`), the
 * stats read from it, and quarantine. Every function a request calls takes `projectId` and filters
 * by it: tenant isolation lives here. {@link rollupRecordingStats} is the service's own task and
 * reads every project's runs; it writes each run into its own project's rows only.
 */
import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../client.ts";
import { type RecordingRow, recordingStatsDaily, recordings, rollupCursors, runActions, runs } from "../schema.ts";

/** The rollup's name in `rollup_cursors`. */
export const STATS_ROLLUP_CURSOR = "recording-stats";

/**
 * How long after it finished a run is folded in, ms. A run's `finished_at` is written by its
 * worker's clock inside the transaction that ends it, so a run can commit a little after a run
 * that finished later; runs are folded in only once they finished this long ago, so the cursor
 * never passes one still committing (or a worker clock running this much ahead).
 */
export const STATS_ROLLUP_SETTLE_MS = 30_000;

/** Most days the stats read back (and the rollup keeps). */
export const STATS_MAX_DAYS = 90;

export interface RollupResult {
  /** Runs folded in by this pass. */
  runs: number;
  /** Day rows older than {@link STATS_MAX_DAYS} deleted. */
  prunedDays: number;
  /** Where the cursor is now (the last run folded in), null when nothing ever was. */
  cursorAt: string | null;
}

/**
 * One pass of the stats rollup: folds the runs that finished after the cursor (and at least
 * {@link STATS_ROLLUP_SETTLE_MS} ago), in `(finished_at, id)` order, up to `batchSize` of them,
 * into each recording's day row, and moves the cursor past them — all in one transaction, under a
 * lock of the cursor's row, so two passes never fold the same run and a pass that fails folds
 * nothing. Idempotent: a pass right after another finds nothing new. Runs without a recording
 * (inline ones) are skipped. `now` is the database's `now()` unless given (tests).
 */
export async function rollupRecordingStats(
  db: Db,
  options: { batchSize?: number; now?: Date } = {},
): Promise<RollupResult> {
  const batchSize = options.batchSize ?? 5000;
  const now = options.now ? sql`${options.now.toISOString()}::timestamptz` : sql`now()`;
  return db.transaction(async (tx) => {
    await tx.insert(rollupCursors).values({ name: STATS_ROLLUP_CURSOR }).onConflictDoNothing();
    const [cursor] = await tx
      .select()
      .from(rollupCursors)
      .where(eq(rollupCursors.name, STATS_ROLLUP_CURSOR))
      .for("update");
    // The cursor is compared and moved in SQL only: a timestamptz has microseconds, a Date does not.
    const after = sql`(r.finished_at, r.id) > (select coalesce(c.cursor_at, '-infinity'::timestamptz),
      coalesce(c.cursor_id, '') from rollup_cursors c where c.name = ${STATS_ROLLUP_CURSOR})`;
    // One statement: the batch, its per-day sums merged into the day rows, and the cursor moved to
    // the batch's last run.
    const result = await tx.execute(sql`
      with batch as (
        select r.id, r.project_id, r.recording_id, r.status, r.flaky, r.duration_ms, r.finished_at,
          to_char(r.finished_at at time zone 'UTC', 'YYYY-MM-DD') as day
        from runs r
        where r.finished_at is not null
          and r.finished_at <= ${now} - ${`${STATS_ROLLUP_SETTLE_MS} milliseconds`}::interval
          and ${after}
        order by r.finished_at, r.id
        limit ${batchSize}
      ), sums as (
        select b.recording_id, b.project_id, b.day,
          count(*)::int as runs,
          (count(*) filter (where b.status = 'passed'))::int as passed,
          (count(*) filter (where b.status = 'failed'))::int as failed,
          (count(*) filter (where b.status = 'errored'))::int as errored,
          (count(*) filter (where b.status = 'cancelled'))::int as cancelled,
          (count(*) filter (where b.flaky))::int as flaky,
          coalesce(array_agg(b.duration_ms order by b.finished_at)
            filter (where b.status in ('passed', 'failed') and b.duration_ms is not null), '{}') as durations,
          (array_agg(b.id order by b.finished_at desc, b.id desc) filter (where b.status = 'failed'))[1] as last_failure_id,
          max(b.finished_at) filter (where b.status = 'failed') as last_failure_at
        from batch b
        join recordings rec on rec.id = b.recording_id and rec.project_id = b.project_id
        group by b.recording_id, b.project_id, b.day
      ), merged as (
        insert into recording_stats_daily as d (recording_id, project_id, day, runs, passed, failed, errored,
          cancelled, flaky, durations_ms, last_failure_run_id, last_failure_at, updated_at)
        select recording_id, project_id, day, runs, passed, failed, errored, cancelled, flaky, durations,
          last_failure_id, last_failure_at, now()
        from sums
        on conflict (recording_id, day) do update set
          runs = d.runs + excluded.runs,
          passed = d.passed + excluded.passed,
          failed = d.failed + excluded.failed,
          errored = d.errored + excluded.errored,
          cancelled = d.cancelled + excluded.cancelled,
          flaky = d.flaky + excluded.flaky,
          durations_ms = d.durations_ms || excluded.durations_ms,
          last_failure_run_id = case
            when excluded.last_failure_at is not null
              and (d.last_failure_at is null or excluded.last_failure_at >= d.last_failure_at)
            then excluded.last_failure_run_id else d.last_failure_run_id end,
          last_failure_at = greatest(d.last_failure_at, excluded.last_failure_at),
          updated_at = now()
        returning 1
      ), last as (
        select id, finished_at from batch order by finished_at desc, id desc limit 1
      ), moved as (
        update rollup_cursors c set cursor_at = last.finished_at, cursor_id = last.id, updated_at = now()
        from last where c.name = ${STATS_ROLLUP_CURSOR}
        returning 1
      )
      -- merged and moved are written whether read or not (a data-modifying CTE runs exactly once).
      select (select count(*)::int from batch) as folded,
        (select finished_at from last) as last_at, (select id from last) as last_id`);
    const [row = { folded: 0, last_at: null, last_id: null }] = result as unknown as {
      folded: number;
      last_at: string | Date | null;
      last_id: string | null;
    }[];
    const pruned = await tx.execute(sql`
      delete from recording_stats_daily
      where day < to_char((${now} - ${`${STATS_MAX_DAYS + 1} days`}::interval) at time zone 'UTC', 'YYYY-MM-DD')
      returning 1`);
    const cursorAt = row.last_at !== null ? new Date(row.last_at) : (cursor?.cursorAt ?? null);
    return {
      runs: Number(row.folded),
      prunedDays: (pruned as unknown as unknown[]).length,
      cursorAt: cursorAt?.toISOString() ?? null,
    };
  });
}

/** A recording's stats over a window (see {@link getRecordingStatsByDays}, {@link getRecordingStatsByRuns}). */
export interface RecordingStats {
  runs: number;
  passed: number;
  failed: number;
  errored: number;
  cancelled: number;
  flaky: number;
  /** passed / (passed + failed + errored); null when none of those. */
  passRate: number | null;
  /** flaky / (passed + failed + errored); null when none of those. */
  flakyRate: number | null;
  /** Of the runs that passed or failed, ms; null when there is none. */
  p50DurationMs: number | null;
  p95DurationMs: number | null;
  /** The latest failed run of the window. */
  lastFailure: { runId: string; at: Date } | null;
}

/** How one finished run of a recording ended (a point of its history sparkline). */
export interface RecordingResult {
  runId: string;
  status: "passed" | "failed" | "errored" | "cancelled";
  /** Passed after a failed attempt. */
  flaky: boolean;
  finishedAt: Date;
}

function rates(s: { passed: number; failed: number; errored: number; flaky: number }) {
  const completed = s.passed + s.failed + s.errored;
  return {
    passRate: completed === 0 ? null : s.passed / completed,
    flakyRate: completed === 0 ? null : s.flaky / completed,
  };
}

/** The UTC day `days - 1` days before `now`: the first day of a window of `days` days ending today. */
export function windowStartDay(now: Date, days: number): string {
  return new Date(now.getTime() - (days - 1) * 86_400_000).toISOString().slice(0, 10);
}

/**
 * A recording's stats over its last `days` UTC days (today included), read from the rollup (a
 * few rows, never the runs): as fresh as the last `stats-rollup` pass.
 */
export async function getRecordingStatsByDays(
  db: Db,
  projectId: string,
  recordingId: string,
  days: number,
  now: Date = new Date(),
): Promise<RecordingStats> {
  const from = windowStartDay(now, days);
  const rows = await db.execute(sql`
    with w as (
      select * from ${recordingStatsDaily}
      where project_id = ${projectId} and recording_id = ${recordingId} and day >= ${from}
    )
    select coalesce(sum(runs), 0)::int as runs, coalesce(sum(passed), 0)::int as passed,
      coalesce(sum(failed), 0)::int as failed, coalesce(sum(errored), 0)::int as errored,
      coalesce(sum(cancelled), 0)::int as cancelled, coalesce(sum(flaky), 0)::int as flaky,
      (select percentile_disc(0.5) within group (order by d) from w, unnest(w.durations_ms) d) as p50,
      (select percentile_disc(0.95) within group (order by d) from w, unnest(w.durations_ms) d) as p95,
      (select last_failure_run_id from w where last_failure_at is not null
        order by last_failure_at desc limit 1) as last_failure_id,
      (select max(last_failure_at) from w) as last_failure_at
    from w`);
  const [row] = rows as unknown as {
    runs: number;
    passed: number;
    failed: number;
    errored: number;
    cancelled: number;
    flaky: number;
    p50: number | null;
    p95: number | null;
    last_failure_id: string | null;
    last_failure_at: string | Date | null;
  }[];
  const s = {
    runs: row?.runs ?? 0,
    passed: row?.passed ?? 0,
    failed: row?.failed ?? 0,
    errored: row?.errored ?? 0,
    cancelled: row?.cancelled ?? 0,
    flaky: row?.flaky ?? 0,
  };
  return {
    ...s,
    ...rates(s),
    p50DurationMs: row?.p50 ?? null,
    p95DurationMs: row?.p95 ?? null,
    lastFailure:
      row?.last_failure_id && row.last_failure_at
        ? { runId: row.last_failure_id, at: new Date(row.last_failure_at) }
        : null,
  };
}

/**
 * A recording's stats over its last `n` finished runs, read from the runs themselves through
 * `runs_recording_finished_idx` (at most `n` rows): exact and current, no rollup needed. With
 * `results`, each of those runs too, oldest first (the same rows, in the same statement).
 */
export async function getRecordingStatsByRuns(
  db: Db,
  projectId: string,
  recordingId: string,
  n: number,
): Promise<RecordingStats & { results: RecordingResult[] }> {
  const last = db
    .select({
      id: runs.id,
      status: runs.status,
      flaky: runs.flaky,
      durationMs: runs.durationMs,
      finishedAt: runs.finishedAt,
    })
    .from(runs)
    .where(and(eq(runs.projectId, projectId), eq(runs.recordingId, recordingId), sql`${runs.finishedAt} is not null`))
    .orderBy(desc(runs.finishedAt))
    .limit(n)
    .as("last");
  const [row] = await db
    .select({
      runs: sql<number>`count(*)::int`,
      passed: sql<number>`(count(*) filter (where ${last.status} = 'passed'))::int`,
      failed: sql<number>`(count(*) filter (where ${last.status} = 'failed'))::int`,
      errored: sql<number>`(count(*) filter (where ${last.status} = 'errored'))::int`,
      cancelled: sql<number>`(count(*) filter (where ${last.status} = 'cancelled'))::int`,
      flaky: sql<number>`(count(*) filter (where ${last.flaky}))::int`,
      p50: sql<number | null>`percentile_disc(0.5) within group (order by ${last.durationMs})
        filter (where ${last.status} in ('passed', 'failed'))`,
      p95: sql<number | null>`percentile_disc(0.95) within group (order by ${last.durationMs})
        filter (where ${last.status} in ('passed', 'failed'))`,
      lastFailureId: sql<
        string | null
      >`(array_agg(${last.id} order by ${last.finishedAt} desc) filter (where ${last.status} = 'failed'))[1]`,
      lastFailureAt: sql<string | null>`max(${last.finishedAt}) filter (where ${last.status} = 'failed')`,
      results: sql<{ runId: string; status: RecordingResult["status"]; flaky: boolean; finishedAt: string }[]>`
        coalesce(json_agg(json_build_object('runId', ${last.id}, 'status', ${last.status}, 'flaky', ${last.flaky},
          'finishedAt', ${last.finishedAt}) order by ${last.finishedAt}, ${last.id}), '[]'::json)`,
    })
    .from(last);
  const s = {
    runs: row?.runs ?? 0,
    passed: row?.passed ?? 0,
    failed: row?.failed ?? 0,
    errored: row?.errored ?? 0,
    cancelled: row?.cancelled ?? 0,
    flaky: row?.flaky ?? 0,
  };
  return {
    ...s,
    ...rates(s),
    p50DurationMs: row?.p50 === null || row?.p50 === undefined ? null : Number(row.p50),
    p95DurationMs: row?.p95 === null || row?.p95 === undefined ? null : Number(row.p95),
    lastFailure:
      row?.lastFailureId && row.lastFailureAt ? { runId: row.lastFailureId, at: new Date(row.lastFailureAt) } : null,
    results: (row?.results ?? []).map((result) => ({ ...result, finishedAt: new Date(result.finishedAt) })),
  };
}

/** What a failed run says about its failure: its failing action (of its last attempt) and error. */
export interface FailureDetail {
  runId: string;
  actionIndex: number | null;
  actionType: string | null;
  errorMessage: string | null;
}

/** The failing action and error of run `runId`; null when the run no longer exists (retention). */
export async function getRunFailureDetail(db: Db, projectId: string, runId: string): Promise<FailureDetail | null> {
  const [row] = await db
    .select({
      actionIndex: runs.failedActionIndex,
      errorMessage: runs.errorMessage,
      actionType: runActions.type,
      actionError: runActions.errorMessage,
    })
    .from(runs)
    .leftJoin(
      runActions,
      and(
        eq(runActions.runId, runs.id),
        eq(runActions.attempt, runs.attempt),
        eq(runActions.index, runs.failedActionIndex),
      ),
    )
    .where(and(eq(runs.projectId, projectId), eq(runs.id, runId)))
    .limit(1);
  if (!row) return null;
  return {
    runId,
    actionIndex: row.actionIndex,
    actionType: row.actionType,
    errorMessage: row.errorMessage ?? row.actionError,
  };
}

/**
 * Quarantines a recording until `until` (its runs still run; their failures fail no suite run and
 * alert no one), replacing a quarantine it had. Null when it does not exist.
 */
export async function quarantineRecording(
  db: Db,
  projectId: string,
  id: string,
  input: { reason: string; until: Date; now?: Date },
): Promise<RecordingRow | null> {
  const now = input.now ?? new Date();
  const [row] = await db
    .update(recordings)
    .set({ quarantinedUntil: input.until, quarantineReason: input.reason, quarantinedAt: now, updatedAt: now })
    .where(and(eq(recordings.projectId, projectId), eq(recordings.id, id)))
    .returning();
  return row ?? null;
}

/** Lifts a recording's quarantine (a no-op when it has none). Null when it does not exist. */
export async function liftQuarantine(db: Db, projectId: string, id: string): Promise<RecordingRow | null> {
  const [row] = await db
    .update(recordings)
    .set({ quarantinedUntil: null, quarantineReason: null, quarantinedAt: null, updatedAt: new Date() })
    .where(and(eq(recordings.projectId, projectId), eq(recordings.id, id)))
    .returning();
  return row ?? null;
}
