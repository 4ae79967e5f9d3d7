/**
 * Suites and suite runs. A suite names recordings (explicit ids and/or a tag query); a suite run
 * snapshots that membership and is the parent of one queued run per recording, created together in
 * one transaction under the project's queue limit. Its status is derived from its children's. With
 * `maxParallel` = N, the runs after the first N are created held (queued, no job) and released as
 * their siblings end; with `failFast`, a failed run cancels those not started (suite-flow.ts).
 *
 * Every function takes `projectId` and filters by it: tenant isolation lives here.
 */
import { isSealed, newId, type RunStatus, sensitiveVariableNames } from "@conveyor/core";
import { and, asc, desc, eq, inArray, type SQL, sql } from "drizzle-orm";
import { type Db, isUniqueViolation } from "../client.ts";
import {
  type CiMetadataRow,
  projectRunCounts,
  type RecordingRow,
  type Run,
  recordings,
  runEvents,
  runs,
  type Suite,
  type SuiteDefaultsRow,
  type SuiteRun,
  suiteRuns,
  suites,
  type TagQueryRow,
} from "../schema.ts";
import { beforeCursor, type Page, toPage } from "./pagination.ts";
import { QueueFullError } from "./runs-submit.ts";
import { cancelQueuedRunInTx, type Executor, requestRunCancelInTx, type Tx } from "./runs-transition.ts";

export { lockSuiteRunOfRun, noSuiteEffects, type SuiteEffects, settleSuiteRunInTx } from "./suite-flow.ts";

/** The fields of a suite a user sets. */
export interface SuiteInput {
  name: string;
  recordingIds: string[];
  tagQuery: TagQueryRow | null;
  defaults: SuiteDefaultsRow;
  /** At most this many of a suite run's runs queued (not held) or running at once; null (default): no limit. */
  maxParallel?: number | null;
  /** A failed or errored run cancels the suite run's runs that have not started. Default false. */
  failFast?: boolean;
}

/** A suite with this name already exists in the project. */
export class SuiteNameTakenError extends Error {
  constructor(name: string) {
    super(`A suite named "${name}" already exists in this project`);
    this.name = "SuiteNameTakenError";
  }
}

export async function insertSuite(db: Db, projectId: string, input: SuiteInput): Promise<Suite> {
  const now = new Date();
  try {
    const [row] = await db
      .insert(suites)
      .values({ id: newId("suite", now.getTime()), projectId, ...input, createdAt: now, updatedAt: now })
      .returning();
    if (!row) throw new Error("insert into suites returned no row");
    return row;
  } catch (error) {
    if (isUniqueViolation(error, "suites_project_name_idx")) throw new SuiteNameTakenError(input.name);
    throw error;
  }
}

export async function getSuite(db: Executor, projectId: string, id: string): Promise<Suite | null> {
  const [row] = await db
    .select()
    .from(suites)
    .where(and(eq(suites.projectId, projectId), eq(suites.id, id)))
    .limit(1);
  return row ?? null;
}

export async function listSuites(
  db: Db,
  projectId: string,
  options: { limit: number; cursor?: { createdAt: Date; id: string } },
): Promise<Page<Suite>> {
  const rows = await db
    .select()
    .from(suites)
    .where(
      and(
        eq(suites.projectId, projectId),
        options.cursor ? beforeCursor(suites.createdAt, suites.id, options.cursor) : undefined,
      ),
    )
    .orderBy(desc(suites.createdAt), desc(suites.id))
    .limit(options.limit + 1);
  return toPage(rows, options.limit);
}

/** Changes the given fields; null when the suite does not exist. */
export async function updateSuite(
  db: Db,
  projectId: string,
  id: string,
  patch: Partial<SuiteInput>,
): Promise<Suite | null> {
  try {
    const [row] = await db
      .update(suites)
      .set({ ...patch, updatedAt: new Date() })
      .where(and(eq(suites.projectId, projectId), eq(suites.id, id)))
      .returning();
    return row ?? null;
  } catch (error) {
    if (patch.name !== undefined && isUniqueViolation(error, "suites_project_name_idx")) {
      throw new SuiteNameTakenError(patch.name);
    }
    throw error;
  }
}

/** Deletes a suite; its suite runs and their runs stay (their `suiteId` becomes null). */
export async function deleteSuite(db: Db, projectId: string, id: string): Promise<boolean> {
  const deleted = await db
    .delete(suites)
    .where(and(eq(suites.projectId, projectId), eq(suites.id, id)))
    .returning({ id: suites.id });
  return deleted.length > 0;
}

/** Which of `ids` are recordings of this project. */
export async function existingRecordingIds(db: Db, projectId: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .select({ id: recordings.id })
    .from(recordings)
    .where(and(eq(recordings.projectId, projectId), inArray(recordings.id, [...ids])));
  return new Set(rows.map((r) => r.id));
}

/** The condition a tag query puts on `recordings.tags`; undefined when it has no terms. */
function tagCondition(query: TagQueryRow): SQL | undefined {
  const terms: SQL[] = [];
  if (query.all?.length) terms.push(sql`${recordings.tags} @> ${sql.param(query.all)}::text[]`);
  if (query.any?.length) terms.push(sql`${recordings.tags} && ${sql.param(query.any)}::text[]`);
  if (query.none?.length) terms.push(sql`not (${recordings.tags} && ${sql.param(query.none)}::text[])`);
  return terms.length ? and(...terms) : undefined;
}

/**
 * The recordings a suite runs now, in its order: its explicit `recordingIds` that still exist (in
 * the order given), then every other recording its `tagQuery` matches, by name then id.
 */
export async function resolveSuiteMembers(
  db: Executor,
  projectId: string,
  suite: Pick<Suite, "recordingIds" | "tagQuery">,
): Promise<RecordingRow[]> {
  const explicit = suite.recordingIds.length
    ? await db
        .select()
        .from(recordings)
        .where(and(eq(recordings.projectId, projectId), inArray(recordings.id, suite.recordingIds)))
    : [];
  const byId = new Map(explicit.map((r) => [r.id, r]));
  const members = suite.recordingIds.flatMap((id) => {
    const row = byId.get(id);
    return row ? [row] : [];
  });
  const condition = suite.tagQuery ? tagCondition(suite.tagQuery) : undefined;
  if (condition) {
    const tagged = await db
      .select()
      .from(recordings)
      .where(and(eq(recordings.projectId, projectId), condition))
      .orderBy(asc(recordings.name), asc(recordings.id));
    for (const row of tagged) if (!byId.has(row.id)) members.push(row);
  }
  return members;
}

/** Most test-level retries a run may have (`retries` of a run, a suite's defaults, a schedule's overrides). */
export const MAX_TEST_RETRIES = 5;

/**
 * A run's test-level retries from a stored setting: 0 when unset, at most {@link MAX_TEST_RETRIES}
 * (a suite saved when `retries` meant infrastructure retries may hold up to 10).
 */
export function testRetries(retries: number | undefined): number {
  return Math.min(Math.max(retries ?? 0, 0), MAX_TEST_RETRIES);
}

/** One child run of a suite run, as the API prepared it. */
export interface SuiteChildInput {
  recordingId: string;
  recording: RecordingRow["recording"];
  actionsTotal: number;
  priority: number;
  timeoutMs: number;
  actionTimeoutMs: number;
  maxAttempts: number;
  /** Test-level retries (0–5): a failed attempt runs again this many times at most. Default 0. */
  retries?: number;
  options: Run["options"];
  /** Values for `${NAME}` placeholders, sealed as the run's recording requires. Default none. */
  variables?: Record<string, string>;
}

export interface CreateSuiteRunInput {
  suite: Suite;
  children: SuiteChildInput[];
  ci?: CiMetadataRow;
  idempotencyKey?: string;
  requestHash?: string;
  /** Refuse (QueueFullError) when the project's queued runs plus the children would exceed it. */
  maxQueuedRuns?: number;
}

/** A suite run with its child runs in the suite's order. */
export interface SuiteRunWithRuns {
  suiteRun: SuiteRun;
  runs: Run[];
}

/**
 * Creates a suite run and its children (queued, each with its `queued` event) in one transaction:
 * all or nothing, checked against the project's queue limit under the lock of its counts row (as
 * `POST /api/runs` is; held runs count, they are queued). The suite's `maxParallel` and `failFast`
 * are copied onto the suite run; with `maxParallel` = N, the children after the first N are created
 * `held`: the caller enqueues only the others. With an Idempotency-Key this project already used
 * for a suite run, returns that one and `created: false` instead.
 */
export async function createSuiteRun(
  db: Db,
  projectId: string,
  input: CreateSuiteRunInput,
): Promise<SuiteRunWithRuns & { created: boolean }> {
  return db.transaction((tx) => createSuiteRunInTx(tx, projectId, input));
}

/** {@link createSuiteRun} inside the caller's transaction (a schedule's fire). */
export async function createSuiteRunInTx(
  tx: Tx,
  projectId: string,
  input: CreateSuiteRunInput & { scheduleId?: string },
): Promise<SuiteRunWithRuns & { created: boolean }> {
  {
    if (input.idempotencyKey !== undefined) {
      const existing = await findSuiteRunByKey(tx, projectId, input.idempotencyKey);
      if (existing) return { ...existing, created: false };
    }
    const [counts] = await tx
      .select({ queued: projectRunCounts.queued })
      .from(projectRunCounts)
      .where(eq(projectRunCounts.projectId, projectId))
      .for("update");
    if (input.maxQueuedRuns !== undefined && (counts?.queued ?? 0) + input.children.length > input.maxQueuedRuns) {
      throw new QueueFullError(input.maxQueuedRuns);
    }
    const now = new Date();
    const suiteRunId = newId("suiteRun", now.getTime());
    const runIds = input.children.map(() => newId("run", now.getTime()));
    const inserted = await tx
      .insert(suiteRuns)
      .values({
        id: suiteRunId,
        projectId,
        suiteId: input.suite.id,
        suiteName: input.suite.name,
        ci: input.ci ?? null,
        runIds,
        total: runIds.length,
        maxParallel: input.suite.maxParallel,
        failFast: input.suite.failFast,
        idempotencyKey: input.idempotencyKey ?? null,
        requestHash: input.requestHash ?? null,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing()
      .returning();
    if (inserted.length === 0 && input.idempotencyKey !== undefined) {
      // A concurrent request with the same key committed first.
      const existing = await findSuiteRunByKey(tx, projectId, input.idempotencyKey);
      if (existing) return { ...existing, created: false };
    }
    const suiteRun = inserted[0];
    if (!suiteRun) throw new Error("insert into suite_runs returned no row");
    const children = await tx
      .insert(runs)
      .values(
        input.children.map((child, i) => ({
          id: runIds[i] as string,
          projectId,
          recordingId: child.recordingId,
          status: "queued" as const,
          priority: child.priority,
          maxAttempts: child.maxAttempts,
          retries: child.retries ?? 0,
          timeoutMs: child.timeoutMs,
          actionTimeoutMs: child.actionTimeoutMs,
          recording: child.recording,
          options: child.options,
          variables: child.variables ?? {},
          actionsTotal: child.actionsTotal,
          suiteRunId,
          held: input.suite.maxParallel !== null && i >= input.suite.maxParallel,
          ci: input.ci ?? null,
          scheduleId: input.scheduleId ?? null,
          createdAt: now,
          updatedAt: now,
        })),
      )
      .returning();
    await tx.insert(runEvents).values(
      children.map((run) => ({
        runId: run.id,
        projectId,
        type: "queued" as const,
        data: {
          priority: run.priority,
          suiteRunId,
          ...(run.held ? { held: true } : {}),
          ...(input.scheduleId ? { scheduleId: input.scheduleId } : {}),
        },
        createdAt: now,
      })),
    );
    return { suiteRun, runs: inOrder(children, runIds), created: true };
  }
}

/**
 * The first variable `recording` declares sensitive whose value in `variables` is not sealed (a
 * suite's default stored while the server had no SECRETS_KEY); undefined when there is none.
 */
export function unsealedSensitiveVariable(
  variables: Readonly<Record<string, string>>,
  recording: RecordingRow["recording"],
): string | undefined {
  const sensitive = sensitiveVariableNames(recording);
  return Object.keys(variables).find((name) => sensitive.has(name) && !isSealed(variables[name] ?? ""));
}

function inOrder(children: Run[], runIds: readonly string[]): Run[] {
  const byId = new Map(children.map((r) => [r.id, r]));
  return runIds.flatMap((id) => {
    const run = byId.get(id);
    return run ? [run] : [];
  });
}

async function findSuiteRunByKey(db: Executor, projectId: string, key: string): Promise<SuiteRunWithRuns | null> {
  const [suiteRun] = await db
    .select()
    .from(suiteRuns)
    .where(and(eq(suiteRuns.projectId, projectId), eq(suiteRuns.idempotencyKey, key)))
    .limit(1);
  if (!suiteRun) return null;
  return { suiteRun, runs: await childrenOf(db, projectId, suiteRun) };
}

async function childrenOf(db: Executor, projectId: string, suiteRun: SuiteRun): Promise<Run[]> {
  const children = await db
    .select()
    .from(runs)
    .where(and(eq(runs.projectId, projectId), eq(runs.suiteRunId, suiteRun.id)));
  return inOrder(children, suiteRun.runIds);
}

/**
 * A suite run with its children. The children are read first: a child's end and what it did to
 * the suite run (`failedFastAt`) commit together, so a suite run read after its children shows at
 * least what they show (read the other way round, a finished child could come with a suite run
 * read just before that commit).
 */
export async function getSuiteRun(db: Executor, projectId: string, id: string): Promise<SuiteRunWithRuns | null> {
  const children = await db
    .select()
    .from(runs)
    .where(and(eq(runs.projectId, projectId), eq(runs.suiteRunId, id)));
  const [suiteRun] = await db
    .select()
    .from(suiteRuns)
    .where(and(eq(suiteRuns.projectId, projectId), eq(suiteRuns.id, id)))
    .limit(1);
  if (!suiteRun) return null;
  return { suiteRun, runs: inOrder(children, suiteRun.runIds) };
}

/**
 * How many of a suite run's children are in each status; `flaky`: passed after a failed attempt;
 * `quarantined`: failed or errored while their recording was quarantined (counted in `failed` or
 * `errored` too, but failing nothing).
 */
export type StatusCounts = Partial<Record<RunStatus | "flaky" | "quarantined", number>>;

/**
 * Suite runs of a project, newest first, each with its children's counts by status; filtered by
 * suite and CI metadata (exact match on each field given).
 */
export async function listSuiteRuns(
  db: Db,
  projectId: string,
  options: {
    limit: number;
    suiteId?: string;
    ci?: CiMetadataRow;
    cursor?: { createdAt: Date; id: string };
  },
): Promise<Page<{ suiteRun: SuiteRun; counts: StatusCounts }>> {
  const rows = await db
    .select()
    .from(suiteRuns)
    .where(
      and(
        eq(suiteRuns.projectId, projectId),
        options.suiteId ? eq(suiteRuns.suiteId, options.suiteId) : undefined,
        ciCondition(suiteRuns.ci, options.ci),
        options.cursor ? beforeCursor(suiteRuns.createdAt, suiteRuns.id, options.cursor) : undefined,
      ),
    )
    .orderBy(desc(suiteRuns.createdAt), desc(suiteRuns.id))
    .limit(options.limit + 1);
  const page = toPage(rows, options.limit);
  const counts = await countsBySuiteRun(
    db,
    projectId,
    page.items.map((r) => r.id),
  );
  return {
    items: page.items.map((suiteRun) => ({ suiteRun, counts: counts.get(suiteRun.id) ?? {} })),
    nextCursor: page.nextCursor,
  };
}

/** `ci @> {…}` for the fields given: runs or suite runs whose CI metadata has those values. */
export function ciCondition(
  column: typeof runs.ci | typeof suiteRuns.ci,
  ci: CiMetadataRow | undefined,
): SQL | undefined {
  if (!ci || Object.keys(ci).length === 0) return undefined;
  return sql`${column} @> ${JSON.stringify(ci)}::jsonb`;
}

async function countsBySuiteRun(db: Db, projectId: string, ids: string[]): Promise<Map<string, StatusCounts>> {
  const result = new Map<string, StatusCounts>();
  if (ids.length === 0) return result;
  const rows = await db
    .select({
      suiteRunId: runs.suiteRunId,
      status: runs.status,
      n: sql<number>`count(*)::int`,
      flaky: sql<number>`(count(*) filter (where ${runs.flaky}))::int`,
      quarantined: sql<number>`(count(*) filter (where ${runs.quarantined}))::int`,
    })
    .from(runs)
    .where(and(eq(runs.projectId, projectId), inArray(runs.suiteRunId, ids)))
    .groupBy(runs.suiteRunId, runs.status);
  for (const row of rows) {
    if (!row.suiteRunId) continue;
    const counts = result.get(row.suiteRunId) ?? {};
    counts[row.status] = row.n;
    if (row.status === "passed" && row.flaky > 0) counts.flaky = (counts.flaky ?? 0) + row.flaky;
    if ((row.status === "failed" || row.status === "errored") && row.quarantined > 0)
      counts.quarantined = (counts.quarantined ?? 0) + row.quarantined;
    result.set(row.suiteRunId, counts);
  }
  return result;
}

/** A suite run's aggregate status. */
export type SuiteRunStatus = "queued" | "running" | "passed" | "flaky" | "failed" | "cancelled";

/**
 * A suite run's status from its children's: `queued` while none has started; `running` while any
 * is unfinished; once all are finished, `failed` if any failed or errored (a quarantined child's
 * failure does not count), else `cancelled` if any was cancelled, else `flaky` if any passed only
 * after a failed attempt, else `passed`. A cancelled suite run whose children are all finished is
 * `cancelled` unless one of them had already failed.
 */
export function suiteRunStatus(counts: StatusCounts): SuiteRunStatus {
  const n = (status: keyof StatusCounts) => counts[status] ?? 0;
  const finished = n("passed") + n("failed") + n("errored") + n("cancelled");
  if (n("running") > 0 || (n("queued") > 0 && finished > 0)) return "running";
  if (n("queued") > 0) return "queued";
  if (n("failed") + n("errored") - n("quarantined") > 0) return "failed";
  if (n("cancelled") > 0) return "cancelled";
  if (n("flaky") > 0) return "flaky";
  return "passed";
}

/** Counts by status of `runs` (with `flaky` and `quarantined`: see {@link StatusCounts}). */
export function statusCounts(children: readonly Pick<Run, "status" | "flaky" | "quarantined">[]): StatusCounts {
  const counts: StatusCounts = {};
  for (const run of children) {
    counts[run.status] = (counts[run.status] ?? 0) + 1;
    if (run.status === "passed" && run.flaky) counts.flaky = (counts.flaky ?? 0) + 1;
    if ((run.status === "failed" || run.status === "errored") && run.quarantined)
      counts.quarantined = (counts.quarantined ?? 0) + 1;
  }
  return counts;
}

/**
 * Cancels a suite run: marks it cancelled and cancels its queued children, held ones included (as
 * `POST /api/runs/:id/cancel` does, each with its event), in one transaction. Returns the ids of the
 * children that were cancelled while queued and of those still running (whose workers the caller
 * tells to stop); null when the suite run does not exist.
 */
export async function cancelSuiteRun(
  db: Db,
  projectId: string,
  id: string,
): Promise<{ cancelledQueued: string[]; running: string[] } | null> {
  return db.transaction(async (tx) => {
    const [suiteRun] = await tx
      .update(suiteRuns)
      .set({ cancelledAt: sql`coalesce(${suiteRuns.cancelledAt}, now())`, updatedAt: new Date() })
      .where(and(eq(suiteRuns.projectId, projectId), eq(suiteRuns.id, id)))
      .returning();
    if (!suiteRun) return null;
    const children = await tx
      .select({ id: runs.id, status: runs.status })
      .from(runs)
      .where(and(eq(runs.projectId, projectId), eq(runs.suiteRunId, id), inArray(runs.status, ["queued", "running"])));
    const cancelledQueued: string[] = [];
    const running: string[] = [];
    for (const child of children) {
      if (child.status === "queued") {
        const done = await cancelQueuedRunInTx(tx, {
          projectId,
          runId: child.id,
          message: "Cancelled with its suite run before it started",
          data: { suiteRunId: id },
        });
        if (done) cancelledQueued.push(child.id);
      } else {
        const requested = await requestRunCancelInTx(tx, { projectId, runId: child.id, data: { suiteRunId: id } });
        if (requested) running.push(child.id);
      }
    }
    return { cancelledQueued, running };
  });
}
