/**
 * Reading runs: one run, a project's runs and dead letters (paginated), an attempt's action
 * results, a run's event log. Every function takes `projectId` and filters by it: tenant
 * isolation lives here.
 */
import type { RunStatus } from "@conveyor/core";
import { and, asc, desc, eq, getTableColumns, gt, inArray, sql } from "drizzle-orm";
import type { Db } from "../client.ts";
import {
  type CiMetadataRow,
  type Run,
  type RunAction,
  type RunAttempt,
  type RunEvent,
  runActions,
  runAttempts,
  runEvents,
  runs,
  suiteRuns,
} from "../schema.ts";
import { beforeCursor, type Page, toPage } from "./pagination.ts";
import type { Executor } from "./runs-transition.ts";

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
  options: {
    limit: number;
    status?: RunStatus[];
    /** Only the children of this suite run. */
    suiteRunId?: string;
    /** Only runs that are (true) or are not (false) flaky: passed after a failed attempt. */
    flaky?: boolean;
    /** Only runs of this stored recording. */
    recordingId?: string;
    /** Only runs this schedule started (directly, or as children of a suite run it started). */
    scheduleId?: string;
    /** Only children of this suite's suite runs. */
    suiteId?: string;
    /** Only runs whose CI metadata has each of these values. */
    ci?: CiMetadataRow;
    cursor?: { createdAt: Date; id: string };
  },
): Promise<Page<Run>> {
  const rows = await db
    .select()
    .from(runs)
    .where(
      and(
        eq(runs.projectId, projectId),
        options.status?.length ? inArray(runs.status, options.status) : undefined,
        options.suiteRunId === undefined ? undefined : eq(runs.suiteRunId, options.suiteRunId),
        options.flaky === undefined ? undefined : eq(runs.flaky, options.flaky),
        options.recordingId === undefined ? undefined : eq(runs.recordingId, options.recordingId),
        // A schedule's suite runs stamp their children with the schedule too (createSuiteRunInTx).
        options.scheduleId === undefined ? undefined : eq(runs.scheduleId, options.scheduleId),
        // The suite's suite runs first (suite_runs_suite_idx), then their children
        // (runs_suite_run_idx): as a plain `in (…)` join the planner may walk every run of the
        // project instead, looking for the few of a rarely run suite.
        options.suiteId === undefined
          ? undefined
          : sql`${runs.suiteRunId} = any(array(${db
              .select({ id: suiteRuns.id })
              .from(suiteRuns)
              .where(and(eq(suiteRuns.projectId, projectId), eq(suiteRuns.suiteId, options.suiteId)))}))`,
        options.ci && Object.keys(options.ci).length > 0
          ? sql`${runs.ci} @> ${JSON.stringify(options.ci)}::jsonb`
          : undefined,
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

/** Action results of every attempt of a run, by attempt, then in recording order. */
export async function getAllRunActions(db: Db, projectId: string, runId: string): Promise<RunAction[]> {
  return db
    .select()
    .from(runActions)
    .where(and(eq(runActions.projectId, projectId), eq(runActions.runId, runId)))
    .orderBy(asc(runActions.attempt), asc(runActions.index));
}

/** How each ended attempt of a run ended (one row per attempt: retried, passed, failed, …), first first. */
export async function getRunAttempts(db: Db, projectId: string, runId: string): Promise<RunAttempt[]> {
  return db
    .select()
    .from(runAttempts)
    .where(and(eq(runAttempts.projectId, projectId), eq(runAttempts.runId, runId)))
    .orderBy(asc(runAttempts.attempt));
}

export async function getRunEvents(db: Db, projectId: string, runId: string): Promise<RunEvent[]> {
  return db
    .select()
    .from(runEvents)
    .where(and(eq(runEvents.projectId, projectId), eq(runEvents.runId, runId)))
    .orderBy(asc(runEvents.id));
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

/** A run event with what a stream filters and shows by: its run's suite run and schedule. */
export interface StreamedRunEvent extends RunEvent {
  suiteRunId: string | null;
  scheduleId: string | null;
}

/**
 * Events of every project with an id above `afterId`, in id order (the API's live feed; it
 * filters by project itself). At most `limit`.
 */
export async function runEventsAfter(db: Db, afterId: number, limit: number): Promise<StreamedRunEvent[]> {
  return db
    .select({ ...getTableColumns(runEvents), suiteRunId: runs.suiteRunId, scheduleId: runs.scheduleId })
    .from(runEvents)
    .innerJoin(runs, eq(runs.id, runEvents.runId))
    .where(gt(runEvents.id, afterId))
    .orderBy(asc(runEvents.id))
    .limit(limit);
}

/** A run's events after `afterId` (a stream's backlog), oldest first. */
export async function runEventsOfRunAfter(
  db: Db,
  projectId: string,
  runId: string,
  afterId: number,
): Promise<RunEvent[]> {
  return db
    .select()
    .from(runEvents)
    .where(and(eq(runEvents.projectId, projectId), eq(runEvents.runId, runId), gt(runEvents.id, afterId)))
    .orderBy(asc(runEvents.id));
}

/**
 * A project's events after `afterId` (the project stream's backlog after a reconnect), oldest
 * first, at most `limit`.
 */
export async function projectRunEventsAfter(
  db: Db,
  projectId: string,
  afterId: number,
  limit: number,
): Promise<StreamedRunEvent[]> {
  return db
    .select({ ...getTableColumns(runEvents), suiteRunId: runs.suiteRunId, scheduleId: runs.scheduleId })
    .from(runEvents)
    .innerJoin(runs, eq(runs.id, runEvents.runId))
    .where(and(eq(runEvents.projectId, projectId), gt(runEvents.id, afterId)))
    .orderBy(asc(runEvents.id))
    .limit(limit);
}

/** The highest event id now (where a live feed starts). */
export async function lastRunEventId(db: Db): Promise<number> {
  const [row] = await db.select({ id: sql<number>`coalesce(max(${runEvents.id}), 0)::bigint` }).from(runEvents);
  return Number(row?.id ?? 0);
}
