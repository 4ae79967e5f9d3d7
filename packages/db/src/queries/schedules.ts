/**
 * Schedules and their fire log. Postgres is the truth: a schedule's `next_fire_at` is the next
 * scheduled time not yet acted on, and each scheduled time becomes exactly one `schedule_fires`
 * row (unique on schedule and time) in the same transaction as the run it starts, so a duplicate
 * clock job, two workers ticking at once or a retried tick can never start two runs for one time.
 *
 * The worker's tick ({@link processDueSchedules}) and `POST /api/schedules/:id/trigger`
 * ({@link fireSchedule} with `manual`) both go through {@link fireSchedule}. Both return the runs
 * to enqueue after the commit (a lost enqueue is the reconciler's, as for any queued run).
 *
 * Every function that a request reaches takes `projectId` and filters by it.
 */
import {
  fireTimesBetween,
  jitterMs,
  newId,
  nextFireTime,
  nextFireTimes,
  PRIORITY_DEFAULT,
  recordingSchema,
  type ScheduleTiming,
} from "@conveyor/core";
import { and, desc, eq, inArray, isNotNull, lt, lte, sql } from "drizzle-orm";
import { type Db, isUniqueViolation } from "../client.ts";
import {
  type FireOutcome,
  type Run,
  recordings,
  runEvents,
  runs,
  type Schedule,
  type ScheduleFire,
  scheduleFires,
  schedules,
} from "../schema.ts";
import { activeMaintenanceWindow, alertOnSchedulePausedInTx } from "./alerts.ts";
import { beforeCursor, type Page, toPage } from "./pagination.ts";
import { cancelQueuedRunInTx, requestRunCancelInTx, type Tx } from "./runs-transition.ts";
import { lockSuiteRunsOfRuns } from "./suite-flow.ts";
import {
  createSuiteRunInTx,
  getSuite,
  resolveSuiteMembers,
  type SuiteChildInput,
  testRetries,
  unsealedSensitiveVariable,
} from "./suites.ts";

/** What a user sets on a schedule (the API validates it). */
export type ScheduleInput = Pick<
  Schedule,
  | "name"
  | "recordingId"
  | "suiteId"
  | "cron"
  | "timezone"
  | "everySeconds"
  | "startAt"
  | "endAt"
  | "jitterSeconds"
  | "overlap"
  | "catchUpWindowSeconds"
  | "runOverrides"
  | "runDefaults"
  | "pauseAfterFailures"
>;

/** A schedule with this name already exists in the project. */
export class ScheduleNameTakenError extends Error {
  constructor(name: string) {
    super(`A schedule named "${name}" already exists in this project`);
    this.name = "ScheduleNameTakenError";
  }
}

/** The timing part of a schedule, for core's schedule-time functions. */
export function timingOf(
  schedule: Pick<Schedule, "cron" | "timezone" | "everySeconds" | "startAt" | "endAt">,
): ScheduleTiming {
  return {
    ...(schedule.cron ? { cron: schedule.cron, timezone: schedule.timezone } : {}),
    ...(schedule.everySeconds ? { everySeconds: schedule.everySeconds } : {}),
    startAt: schedule.startAt,
    endAt: schedule.endAt,
  };
}

/** The next `count` scheduled times after `after`. */
export function upcomingFires(schedule: Schedule, after: Date, count: number): Date[] {
  return nextFireTimes(timingOf(schedule), after, count);
}

export async function insertSchedule(
  db: Db,
  projectId: string,
  input: ScheduleInput,
  now = new Date(),
): Promise<Schedule> {
  try {
    const [row] = await db
      .insert(schedules)
      .values({
        id: newId("schedule", now.getTime()),
        projectId,
        ...input,
        nextFireAt: nextFireTime(timingOf(input), now),
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    if (!row) throw new Error("insert into schedules returned no row");
    return row;
  } catch (error) {
    if (isUniqueViolation(error, "schedules_project_name_idx")) throw new ScheduleNameTakenError(input.name);
    throw error;
  }
}

export async function getSchedule(db: Db | Tx, projectId: string, id: string): Promise<Schedule | null> {
  const [row] = await db
    .select()
    .from(schedules)
    .where(and(eq(schedules.projectId, projectId), eq(schedules.id, id)))
    .limit(1);
  return row ?? null;
}

export async function listSchedules(
  db: Db,
  projectId: string,
  options: { limit: number; cursor?: { createdAt: Date; id: string } },
): Promise<Page<Schedule>> {
  const rows = await db
    .select()
    .from(schedules)
    .where(
      and(
        eq(schedules.projectId, projectId),
        options.cursor ? beforeCursor(schedules.createdAt, schedules.id, options.cursor) : undefined,
      ),
    )
    .orderBy(desc(schedules.createdAt), desc(schedules.id))
    .limit(options.limit + 1);
  return toPage(rows, options.limit);
}

/**
 * Replaces a schedule's settings (the caller merges the patch) and recomputes its next scheduled
 * time from now: a change takes effect at the next tick. Null when it does not exist.
 */
export async function updateSchedule(
  db: Db,
  projectId: string,
  id: string,
  input: ScheduleInput,
  now = new Date(),
): Promise<Schedule | null> {
  try {
    const [row] = await db
      .update(schedules)
      .set({ ...input, nextFireAt: nextFireTime(timingOf(input), now), updatedAt: now })
      .where(and(eq(schedules.projectId, projectId), eq(schedules.id, id)))
      .returning();
    return row ?? null;
  } catch (error) {
    if (isUniqueViolation(error, "schedules_project_name_idx")) throw new ScheduleNameTakenError(input.name);
    throw error;
  }
}

export async function deleteSchedule(db: Db, projectId: string, id: string): Promise<boolean> {
  const deleted = await db
    .delete(schedules)
    .where(and(eq(schedules.projectId, projectId), eq(schedules.id, id)))
    .returning({ id: schedules.id });
  return deleted.length > 0;
}

/** Pauses a schedule (its scheduled times are logged `skipped_paused` until resumed). */
export async function pauseSchedule(
  db: Db | Tx,
  projectId: string,
  id: string,
  reason: string,
  now = new Date(),
): Promise<Schedule | null> {
  const [row] = await db
    .update(schedules)
    .set({ pausedAt: sql`coalesce(${schedules.pausedAt}, ${now.toISOString()}::timestamptz)`, pauseReason: reason })
    .where(and(eq(schedules.projectId, projectId), eq(schedules.id, id)))
    .returning();
  return row ?? null;
}

/** Resumes a paused schedule from now: its next scheduled time is the next one after now. */
export async function resumeSchedule(
  db: Db,
  projectId: string,
  id: string,
  now = new Date(),
): Promise<Schedule | null> {
  const current = await getSchedule(db, projectId, id);
  if (!current) return null;
  const [row] = await db
    .update(schedules)
    .set({ pausedAt: null, pauseReason: null, nextFireAt: nextFireTime(timingOf(current), now), updatedAt: now })
    .where(and(eq(schedules.projectId, projectId), eq(schedules.id, id)))
    .returning();
  return row ?? null;
}

/** A schedule's fire log, newest first, paginated by id. */
export async function listScheduleFires(
  db: Db,
  projectId: string,
  scheduleId: string,
  options: { limit: number; beforeId?: number },
): Promise<{ items: ScheduleFire[]; nextBeforeId: number | null }> {
  const rows = await db
    .select()
    .from(scheduleFires)
    .where(
      and(
        eq(scheduleFires.projectId, projectId),
        eq(scheduleFires.scheduleId, scheduleId),
        options.beforeId === undefined ? undefined : lt(scheduleFires.id, options.beforeId),
      ),
    )
    .orderBy(desc(scheduleFires.id))
    .limit(options.limit + 1);
  const items = rows.slice(0, options.limit);
  return { items, nextBeforeId: rows.length > options.limit ? (items.at(-1)?.id ?? null) : null };
}

/** What a fire asks of the caller once its transaction committed. */
export interface FireEffects {
  /** The fire row, or null when this scheduled time already had one (nothing was done). */
  fire: ScheduleFire | null;
  /** Queued runs whose jobs the caller adds. */
  enqueue: Run[];
  /** Queued runs cancelled by `cancel_previous`, whose jobs the caller removes. */
  withdraw: string[];
  /** Running runs asked to stop by `cancel_previous`, whose workers the caller tells. */
  stop: string[];
}

const UNFINISHED = ["queued", "running"] as const;

/**
 * Acts on one scheduled time of `schedule` in `tx`: logs it and, by the schedule's state and
 * overlap policy, starts its run (or suite run), skips it, buffers it or cancels the previous run
 * first. A manual fire (`POST /trigger`) starts a run even when paused, regardless of overlap.
 */
export async function fireScheduleInTx(
  tx: Tx,
  schedule: Schedule,
  scheduledAt: Date,
  options: { now: Date; manual?: boolean; outcome?: FireOutcome; reason?: string },
): Promise<FireEffects> {
  const effects: FireEffects = { fire: null, enqueue: [], withdraw: [], stop: [] };
  const log = async (outcome: FireOutcome, extra: { reason?: string; runId?: string; suiteRunId?: string } = {}) => {
    const [fire] = await tx
      .insert(scheduleFires)
      .values({
        scheduleId: schedule.id,
        projectId: schedule.projectId,
        scheduledAt,
        firedAt: options.now,
        outcome,
        manual: options.manual ?? false,
        runId: extra.runId ?? null,
        suiteRunId: extra.suiteRunId ?? null,
        reason: extra.reason ?? null,
      })
      .onConflictDoNothing()
      .returning();
    return fire ?? null;
  };
  if (options.outcome) {
    effects.fire = await log(options.outcome, options.reason ? { reason: options.reason } : {});
    return effects;
  }
  if (!options.manual && schedule.pausedAt) {
    effects.fire = await log("skipped_paused", { reason: schedule.pauseReason ?? "paused" });
    return effects;
  }
  if (!options.manual) {
    const window = await activeMaintenanceWindow(
      tx,
      schedule.projectId,
      { scheduleId: schedule.id, recordingId: schedule.recordingId, suiteId: schedule.suiteId },
      scheduledAt,
      ["pause"],
    );
    if (window) {
      effects.fire = await log("skipped_paused", {
        reason: `maintenance window ${window.id} until ${window.endsAt.toISOString()}${window.reason ? `: ${window.reason}` : ""}`,
      });
      return effects;
    }
  }
  if (!options.manual && schedule.overlap !== "allow") {
    const unfinished = await tx
      .select({ id: runs.id, status: runs.status })
      .from(runs)
      .where(
        and(
          eq(runs.projectId, schedule.projectId),
          eq(runs.scheduleId, schedule.id),
          inArray(runs.status, [...UNFINISHED]),
        ),
      );
    if (unfinished.length > 0) {
      if (schedule.overlap === "skip") {
        effects.fire = await log("skipped_overlap", {
          reason: `${unfinished.length} run(s) of an earlier fire still unfinished`,
        });
        return effects;
      }
      if (schedule.overlap === "buffer_one") {
        const [buffered] = await tx
          .select({ id: scheduleFires.id })
          .from(scheduleFires)
          .where(and(eq(scheduleFires.scheduleId, schedule.id), eq(scheduleFires.outcome, "buffered")))
          .limit(1);
        effects.fire = buffered
          ? await log("skipped_overlap", { reason: "an earlier fire is already buffered" })
          : await log("buffered", { reason: "starts when the unfinished run(s) of an earlier fire end" });
        return effects;
      }
      // cancel_previous. Their suite runs are locked first (suite-flow.ts's lock order), so a
      // sibling finishing meanwhile cannot deadlock with these cancels.
      await lockSuiteRunsOfRuns(
        tx,
        schedule.projectId,
        unfinished.map((run) => run.id),
      );
      for (const run of unfinished) {
        if (run.status === "queued") {
          const done = await cancelQueuedRunInTx(tx, {
            projectId: schedule.projectId,
            runId: run.id,
            message: "Cancelled by its schedule's next fire (overlap: cancel_previous)",
            data: { scheduleId: schedule.id },
            at: options.now,
          });
          if (done) effects.withdraw.push(run.id);
        } else {
          const requested = await requestRunCancelInTx(tx, {
            projectId: schedule.projectId,
            runId: run.id,
            data: { scheduleId: schedule.id },
            at: options.now,
          });
          if (requested) effects.stop.push(run.id);
        }
      }
    }
  }
  const started = await startRunsOf(tx, schedule, scheduledAt);
  if ("reason" in started) {
    effects.fire = await log("failed", { reason: started.reason });
    return effects;
  }
  effects.fire = await log("started", started.ids);
  if (!effects.fire) {
    // Another tick logged this time first: undo what this one started.
    throw new DuplicateFire();
  }
  effects.enqueue = started.runs;
  return effects;
}

/** Thrown to roll back a fire whose scheduled time another transaction logged first. */
class DuplicateFire extends Error {}

/** The runs a fire starts: the schedule's recording, or one per recording of its suite. */
async function startRunsOf(
  tx: Tx,
  schedule: Schedule,
  scheduledAt: Date,
): Promise<{ runs: Run[]; ids: { runId?: string; suiteRunId?: string } } | { reason: string }> {
  const overrides = schedule.runOverrides;
  const defaults = schedule.runDefaults;
  if (schedule.recordingId) {
    const [recordingRow] = await tx
      .select()
      .from(recordings)
      .where(and(eq(recordings.projectId, schedule.projectId), eq(recordings.id, schedule.recordingId)))
      .limit(1);
    if (!recordingRow) return { reason: `recording ${schedule.recordingId} no longer exists` };
    const recording = recordingSchema.parse(recordingRow.recording);
    const now = new Date();
    const [run] = await tx
      .insert(runs)
      .values({
        id: newId("run", now.getTime()),
        projectId: schedule.projectId,
        recordingId: recordingRow.id,
        status: "queued",
        priority: overrides.priority ?? PRIORITY_DEFAULT,
        maxAttempts: defaults.maxAttempts,
        retries: testRetries(overrides.retries),
        timeoutMs: overrides.timeoutMs ?? defaults.timeoutMs,
        actionTimeoutMs: defaults.actionTimeoutMs,
        recording,
        options: overrides.options ?? {},
        actionsTotal: recording.actions.length,
        scheduleId: schedule.id,
        // The scheduled time names the run: a second start of this time would conflict.
        idempotencyKey: `schedule:${schedule.id}:${scheduledAt.toISOString()}`,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing()
      .returning();
    // Its Idempotency-Key is taken: this scheduled time already started its run (a manual
    // trigger in the same millisecond).
    if (!run) throw new DuplicateFire();
    await tx.insert(runEvents).values({
      runId: run.id,
      projectId: schedule.projectId,
      type: "queued",
      data: { priority: run.priority, scheduleId: schedule.id, scheduledAt: scheduledAt.toISOString() },
      createdAt: now,
    });
    return { runs: [run], ids: { runId: run.id } };
  }
  if (!schedule.suiteId) return { reason: "the schedule has no target" };
  const suite = await getSuite(tx, schedule.projectId, schedule.suiteId);
  if (!suite) return { reason: `suite ${schedule.suiteId} no longer exists` };
  const members = await resolveSuiteMembers(tx, schedule.projectId, suite);
  if (members.length === 0) return { reason: `suite ${suite.name} selects no recording` };
  // The suite's variables as stored: sealed by the API when it has SECRETS_KEY (this worker never
  // sees them open). One a recording declares sensitive but stored open is not run.
  const variables = suite.defaults.variables ?? {};
  for (const member of members) {
    const open = unsealedSensitiveVariable(variables, recordingSchema.parse(member.recording));
    if (open !== undefined) {
      return {
        reason: `recording ${member.id} declares variable ${open} sensitive, and the suite stores its value unencrypted (saved without SECRETS_KEY); save the suite's variables again`,
      };
    }
  }
  const children: SuiteChildInput[] = members.map((member) => {
    const recording = recordingSchema.parse(member.recording);
    return {
      recordingId: member.id,
      recording,
      actionsTotal: recording.actions.length,
      priority: overrides.priority ?? suite.defaults.priority ?? PRIORITY_DEFAULT,
      timeoutMs: overrides.timeoutMs ?? suite.defaults.timeoutMs ?? defaults.timeoutMs,
      actionTimeoutMs: defaults.actionTimeoutMs,
      maxAttempts: defaults.maxAttempts,
      retries: testRetries(overrides.retries ?? suite.defaults.retries),
      options: overrides.options ?? suite.defaults.options ?? {},
      variables,
    };
  });
  const created = await createSuiteRunInTx(tx, schedule.projectId, {
    suite,
    children,
    scheduleId: schedule.id,
    idempotencyKey: `schedule:${schedule.id}:${scheduledAt.toISOString()}`,
  });
  // Held runs (maxParallel) get their jobs when released, not now.
  return {
    runs: created.created ? created.runs.filter((run) => !run.held) : [],
    ids: { suiteRunId: created.suiteRun.id },
  };
}

/** `fireScheduleInTx` in its own transaction; a time another transaction logged first does nothing. */
export async function fireSchedule(
  db: Db,
  schedule: Schedule,
  scheduledAt: Date,
  options: { now: Date; manual?: boolean },
): Promise<FireEffects> {
  try {
    return await db.transaction((tx) => fireScheduleInTx(tx, schedule, scheduledAt, options));
  } catch (error) {
    if (error instanceof DuplicateFire) return { fire: null, enqueue: [], withdraw: [], stop: [] };
    throw error;
  }
}

export interface TickOptions {
  /** How late a scheduled time may be acted on and still start its run (beyond its catch-up window), ms. */
  toleranceMs: number;
  /** Most schedules handled by one tick. Default 100. */
  batch?: number;
}

/** What a tick did, for the caller's logging and enqueueing. */
export interface TickResult extends Omit<FireEffects, "fire"> {
  fires: ScheduleFire[];
  paused: { scheduleId: string; reason: string }[];
}

/**
 * The workers' tick: acts on every due scheduled time of every schedule, and on buffered fires
 * whose blocking runs ended; pauses schedules whose last `pauseAfterFailures` runs all failed.
 * Each schedule is handled in its own transaction holding its row (`for update skip locked`:
 * two ticks at once split the schedules between them).
 *
 * A scheduled time is acted on once `now` reaches it plus its jitter. One later than its
 * `catchUpWindowSeconds` plus `toleranceMs` is logged `missed` (everything was down, or the clock
 * stopped): missed fires are never run in a burst.
 */
export async function processDueSchedules(db: Db, now: Date, options: TickOptions): Promise<TickResult> {
  const result: TickResult = { fires: [], enqueue: [], withdraw: [], stop: [], paused: [] };
  const merge = (effects: FireEffects) => {
    if (effects.fire) result.fires.push(effects.fire);
    result.enqueue.push(...effects.enqueue);
    result.withdraw.push(...effects.withdraw);
    result.stop.push(...effects.stop);
  };
  await autoPause(db, now, result);
  await startBuffered(db, now, merge);
  const due = await db
    .select({ id: schedules.id })
    .from(schedules)
    .where(and(isNotNull(schedules.nextFireAt), lte(schedules.nextFireAt, now)))
    .orderBy(schedules.nextFireAt)
    .limit(options.batch ?? 100);
  for (const { id } of due) {
    await db.transaction(async (tx) => {
      const [schedule] = await tx
        .select()
        .from(schedules)
        .where(and(eq(schedules.id, id), isNotNull(schedules.nextFireAt), lte(schedules.nextFireAt, now)))
        .for("update", { skipLocked: true });
      if (!schedule?.nextFireAt) return;
      const timing = timingOf(schedule);
      let at: Date | null = schedule.nextFireAt;
      // A time is acted on at its due moment (the time plus its jitter); one whose due moment
      // is older than the catch-up window plus the tolerance is missed.
      const cutoff = now.getTime() - schedule.catchUpWindowSeconds * 1000 - options.toleranceMs;
      const dueAt = (time: Date) => time.getTime() + jitterMs(schedule.id, time, schedule.jitterSeconds);
      // Each time in a savepoint: one whose fire row (or run) exists already is left as it is.
      const act = async (time: Date, fire: { now: Date; outcome?: FireOutcome; reason?: string }) => {
        try {
          merge(await tx.transaction((savepoint) => fireScheduleInTx(savepoint, schedule, time, fire)));
        } catch (error) {
          if (!(error instanceof DuplicateFire)) throw error;
        }
      };
      // Far behind (a long outage): the first missed times get a row each, the rest one row.
      const surelyMissedBefore = new Date(cutoff - schedule.jitterSeconds * 1000 - 1);
      const missed = fireTimesBetween(timing, new Date(at.getTime() - 1), surelyMissedBefore, MISSED_ROWS + 2);
      if (missed.length > MISSED_ROWS + 1) {
        for (const time of missed.slice(0, MISSED_ROWS)) {
          await act(time, { now, outcome: "missed", reason: lateReason(now, time) });
        }
        const rest = fireTimesBetween(
          timing,
          new Date((missed[MISSED_ROWS] as Date).getTime() - 1),
          surelyMissedBefore,
          1_000_000,
        );
        const last = rest.at(-1) as Date;
        await act(last, {
          now,
          outcome: "missed",
          reason: `${rest.length} scheduled times from ${rest[0]?.toISOString()} to ${last.toISOString()} missed (the service was down?)`,
        });
        at = nextFireTime(timing, last);
      }
      while (at && at <= now) {
        const due = dueAt(at);
        if (due > now.getTime()) break; // its jitter has not elapsed: the next tick
        await act(at, due < cutoff ? { now, outcome: "missed", reason: lateReason(now, new Date(due)) } : { now });
        at = nextFireTime(timing, at);
      }
      await tx.update(schedules).set({ nextFireAt: at }).where(eq(schedules.id, schedule.id));
    });
  }
  return result;
}

/** Missed scheduled times logged one row each before the rest are summed up in one row. */
const MISSED_ROWS = 20;

function lateReason(now: Date, scheduledAt: Date): string {
  return `acted on ${Math.round((now.getTime() - scheduledAt.getTime()) / 1000)} s late (the service was down?)`;
}

/** Starts the buffered fire of each schedule whose earlier runs have all ended. */
async function startBuffered(db: Db, now: Date, merge: (effects: FireEffects) => void): Promise<void> {
  const buffered = await db
    .select({ fireId: scheduleFires.id, scheduleId: scheduleFires.scheduleId })
    .from(scheduleFires)
    .where(eq(scheduleFires.outcome, "buffered"))
    .limit(100);
  for (const { fireId, scheduleId } of buffered) {
    await db.transaction(async (tx) => {
      const [schedule] = await tx.select().from(schedules).where(eq(schedules.id, scheduleId)).for("update", {
        skipLocked: true,
      });
      if (!schedule) return;
      const [busy] = await tx
        .select({ id: runs.id })
        .from(runs)
        .where(and(eq(runs.scheduleId, scheduleId), inArray(runs.status, [...UNFINISHED])))
        .limit(1);
      if (busy) return;
      const [fire] = await tx
        .select()
        .from(scheduleFires)
        .where(and(eq(scheduleFires.id, fireId), eq(scheduleFires.outcome, "buffered")))
        .for("update");
      if (!fire) return;
      if (schedule.pausedAt) {
        await tx
          .update(scheduleFires)
          .set({ outcome: "skipped_paused", reason: schedule.pauseReason ?? "paused" })
          .where(eq(scheduleFires.id, fireId));
        return;
      }
      const started = await startRunsOf(tx, schedule, fire.scheduledAt);
      const [updated] = await tx
        .update(scheduleFires)
        .set(
          "reason" in started
            ? { outcome: "failed", reason: started.reason, firedAt: now }
            : {
                outcome: "started",
                reason: "was buffered behind an unfinished run",
                firedAt: now,
                runId: started.ids.runId ?? null,
                suiteRunId: started.ids.suiteRunId ?? null,
              },
        )
        .where(eq(scheduleFires.id, fireId))
        .returning();
      merge({ fire: updated ?? null, enqueue: "reason" in started ? [] : started.runs, withdraw: [], stop: [] });
    });
  }
}

/**
 * Pauses each schedule with `pauseAfterFailures` = N whose last N finished runs (suite runs: the
 * runs of its last N fires) all failed or errored; the reason says so.
 */
async function autoPause(db: Db, now: Date, result: TickResult): Promise<void> {
  const watched = await db
    .select({
      id: schedules.id,
      projectId: schedules.projectId,
      n: schedules.pauseAfterFailures,
      since: schedules.updatedAt,
    })
    .from(schedules)
    .where(and(isNotNull(schedules.pauseAfterFailures), sql`${schedules.pausedAt} is null`));
  for (const schedule of watched) {
    const n = schedule.n ?? 0;
    if (n < 1) continue;
    // The last N fires that started something and whose runs have all finished, since the
    // schedule was last saved or resumed (a resume starts the count again).
    const rows = await db.execute<{ failed: boolean }>(sql`
      select bool_or(r.status in ('failed', 'errored')) as failed
        from schedule_fires f
        join runs r on (r.id = f.run_id or r.suite_run_id = f.suite_run_id)
       where f.schedule_id = ${schedule.id} and f.outcome = 'started' and f.fired_at > ${schedule.since.toISOString()}::timestamptz
       group by f.id
      having bool_and(r.status in ('passed', 'failed', 'errored', 'cancelled'))
       order by max(f.scheduled_at) desc
       limit ${n}`);
    const list = rows as unknown as { failed: boolean }[];
    if (list.length < n || !list.every((row) => row.failed)) continue;
    const reason = `paused after ${n} consecutive failed run(s)`;
    // The pause and its alert commit together (the outbox).
    await db.transaction(async (tx) => {
      const paused = await pauseSchedule(tx, schedule.projectId, schedule.id, reason, now);
      if (paused) await alertOnSchedulePausedInTx(tx, paused, reason, now);
    });
    result.paused.push({ scheduleId: schedule.id, reason });
  }
}
