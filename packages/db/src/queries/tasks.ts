/**
 * The state of the service's own background tasks (retention, reconciliation, …), shared by every
 * worker. Their definitions live in code (worker/src/orchestrator.ts); each worker writes them at
 * start ({@link registerServiceTasks}) so the API can show them and judge conflicts.
 *
 * One instance of a task runs across the fleet at a time: a worker must take its lease
 * ({@link takeServiceTask}), which sets `lease_holder`, `lease_expires_at` and a new `lease_token`.
 * The holder renews it while the task runs; every later write of that run ({@link
 * renewServiceTaskLease}, {@link finishServiceTask}, {@link releaseServiceTask}) is conditional on
 * the token, so a holder that was frozen past its lease and came back cannot overwrite the run of
 * the worker that took over. Leases are judged on Postgres's clock, so workers' clocks never matter.
 *
 * Takes are serialized by a transaction-scoped advisory lock: deciding "nothing that blocks me is
 * running" and taking the lease are one step across the fleet, so two tasks that block each other
 * can never both start.
 */
import { and, eq, getTableColumns, isNotNull, sql } from "drizzle-orm";
import type { Db } from "../client.ts";
import { type ServiceTask, type ServiceTaskDefinitionRow, type ServiceTaskMode, serviceTasks } from "../schema.ts";

/** What a worker registers for each task it can run. */
export interface ServiceTaskRegistration extends ServiceTaskDefinitionRow {
  name: string;
  mode: ServiceTaskMode;
  intervalMs: number;
}

/** The advisory lock that serializes takes and requests (two int4 keys: "conv", "task"). */
const TAKE_LOCK = sql`select pg_advisory_xact_lock(1668247158, 1952543595)`;

/**
 * First statements of every transaction on service_tasks: a worker frozen inside one (SIGSTOP, a
 * starved host) would otherwise keep its locks, the advisory lock of takes included, and stall the
 * service tasks of the whole fleet until it woke. Postgres ends such a session after 5 s idle in
 * its transaction (the frozen worker's next statement then fails, and its pool reconnects), and
 * no one waits more than 3 s for a lock.
 */
async function boundWaits(tx: Pick<Db, "execute">): Promise<void> {
  await tx.execute(sql`set local lock_timeout = '3s'`);
  await tx.execute(sql`set local idle_in_transaction_session_timeout = '5s'`);
}

/** The names a task may not run beside: what it blocks, what blocks it, what it depends on. */
export function conflictsOf(
  name: string,
  definitions: ReadonlyMap<string, Pick<ServiceTaskDefinitionRow, "blocks" | "dependsOn">>,
): { blocks: string[]; dependsOn: string[] } {
  const own = definitions.get(name);
  const blocks = new Set(own?.blocks ?? []);
  for (const [other, definition] of definitions) {
    if (other !== name && definition.blocks.includes(name)) blocks.add(other);
  }
  blocks.delete(name);
  return { blocks: [...blocks].sort(), dependsOn: [...(own?.dependsOn ?? [])].filter((n) => n !== name).sort() };
}

/**
 * A task's row with two facts judged on Postgres's clock: `running` (its lease is held and has not
 * expired: a run is under way) and `intervalDue` (its next run time has come).
 */
export interface ServiceTaskState extends ServiceTask {
  running: boolean;
  intervalDue: boolean;
}

const stateColumns = {
  ...getTableColumns(serviceTasks),
  running: sql<boolean>`(${serviceTasks.leaseHolder} is not null and ${serviceTasks.leaseExpiresAt} > clock_timestamp())`,
  intervalDue: sql<boolean>`(${serviceTasks.nextRunAt} is null or ${serviceTasks.nextRunAt} <= clock_timestamp())`,
};

async function selectStates(db: Pick<Db, "select">): Promise<ServiceTaskState[]> {
  const rows = await db.select(stateColumns).from(serviceTasks).orderBy(serviceTasks.name);
  // pglite and postgres.js both give booleans; be strict anyway.
  return rows.map((row) => ({ ...row, running: row.running === true, intervalDue: row.intervalDue === true }));
}

/**
 * Why the task cannot start now because of another task, or null: a task it blocks or that
 * blocks it is running, or a task it depends on is running (it waits for that run to end).
 */
export function conflictReason(task: ServiceTask, all: readonly ServiceTaskState[]): string | null {
  const definitions = new Map(all.map((row) => [row.name, row.definition]));
  const { blocks, dependsOn } = conflictsOf(task.name, definitions);
  const byName = new Map(all.map((row) => [row.name, row]));
  for (const other of dependsOn) {
    const row = byName.get(other);
    if (row?.running) return `waits for ${other}, which it depends on, to finish its run`;
  }
  for (const other of blocks) {
    const row = byName.get(other);
    if (row?.running) return `blocked: ${other} is running and the two never run together`;
  }
  return null;
}

/**
 * Writes the definitions of the tasks this worker runs (new rows enabled, due at once; the state
 * of existing rows is kept, their definition updated: the code is the source of definitions).
 */
export async function registerServiceTasks(db: Db, tasks: readonly ServiceTaskRegistration[]): Promise<void> {
  for (const task of tasks) {
    const { name, mode, intervalMs, ...definition } = task;
    await db
      .insert(serviceTasks)
      .values({ name, mode, intervalMs, definition })
      .onConflictDoUpdate({ target: serviceTasks.name, set: { mode, intervalMs, definition } });
  }
}

/** Every task's state, by name. */
export async function listServiceTasks(db: Db): Promise<ServiceTaskState[]> {
  return selectStates(db);
}

export async function getServiceTask(db: Db, name: string): Promise<ServiceTaskState | undefined> {
  return (await selectStates(db)).find((row) => row.name === name);
}

/** A lease taken: the token every write of this run must present. */
export interface ServiceTaskLease {
  name: string;
  token: number;
  /** Why it runs: its interval came, a request (by whom), or continuous. */
  cause: "due" | "requested" | "continuous";
  requestedBy: string | null;
}

export type TakeOutcome =
  | { taken: ServiceTaskLease }
  | { taken: null; reason: "not_due" | "disabled" | "running" | "unknown" | "conflict"; detail?: string };

/**
 * Takes the task's lease for `holder` when it is enabled, not running, due (scheduled: its next
 * run time came; triggered: a run was requested; continuous: its pause after the last run is
 * over; any mode: a run was requested) and nothing it conflicts with runs. Serialized across the
 * fleet (advisory lock), so conflicting tasks never both start.
 */
export async function takeServiceTask(
  db: Db,
  options: {
    name: string;
    holder: string;
    leaseMs: number;
    /** Test seam: awaited once the takes' lock is held (a test freezes a take there). Default: none. */
    afterLock?: () => Promise<void>;
  },
): Promise<TakeOutcome> {
  return db.transaction(async (tx) => {
    await boundWaits(tx);
    await tx.execute(TAKE_LOCK);
    await options.afterLock?.();
    const all = await selectStates(tx);
    const task = all.find((row) => row.name === options.name);
    if (!task) return { taken: null, reason: "unknown" };
    if (!task.enabled) return { taken: null, reason: "disabled", detail: task.disabledReason ?? undefined };
    if (task.running) return { taken: null, reason: "running" };
    const requested = task.runRequestedAt !== null;
    const due = requested || (task.mode !== "triggered" && task.intervalDue);
    if (!due) return { taken: null, reason: "not_due" };
    const conflict = conflictReason(task, all);
    if (conflict) return { taken: null, reason: "conflict", detail: conflict };
    const [row] = await tx
      .update(serviceTasks)
      .set({
        leaseHolder: options.holder,
        leaseToken: sql`${serviceTasks.leaseToken} + 1`,
        leaseExpiresAt: sql`clock_timestamp() + ${`${options.leaseMs} milliseconds`}::interval`,
        runStartedAt: sql`clock_timestamp()`,
        runRequestedAt: null,
        runRequestedBy: null,
        lastRunAt: sql`clock_timestamp()`,
        updatedAt: sql`clock_timestamp()`,
      })
      .where(eq(serviceTasks.name, task.name))
      .returning({ token: serviceTasks.leaseToken });
    if (!row) return { taken: null, reason: "unknown" };
    return {
      taken: {
        name: task.name,
        token: row.token,
        cause: requested ? "requested" : task.mode === "continuous" ? "continuous" : "due",
        requestedBy: task.runRequestedBy,
      },
    };
  });
}

/** Extends the lease; false when it is no longer this run's (taken over, released, task deleted). */
export async function renewServiceTaskLease(db: Db, lease: ServiceTaskLease, leaseMs: number): Promise<boolean> {
  const rows = await db
    .update(serviceTasks)
    .set({ leaseExpiresAt: sql`clock_timestamp() + ${`${leaseMs} milliseconds`}::interval` })
    .where(heldBy(lease))
    .returning({ name: serviceTasks.name });
  return rows.length === 1;
}

/** The row while the lease is still this run's. */
function heldBy(lease: ServiceTaskLease) {
  return and(
    eq(serviceTasks.name, lease.name),
    eq(serviceTasks.leaseToken, lease.token),
    isNotNull(serviceTasks.leaseHolder),
  );
}

/** How a run ended. */
export type ServiceTaskResult =
  | { ok: true; durationMs: number; result?: Record<string, unknown> }
  | { ok: false; durationMs: number; error: string };

/** What {@link finishServiceTask} did. */
export interface FinishOutcome {
  /** False when the lease was no longer this run's: nothing was written. */
  recorded: boolean;
  consecutiveFailures: number;
  /** True when this failure reached maxConsecutiveFailures and disabled the task. */
  disabled: boolean;
  disabledReason: string | null;
}

/**
 * Ends a run (fenced by its lease token): records success or failure, counts consecutive failures,
 * disables the task when they reach its `maxConsecutiveFailures` (0: never), sets its next run
 * (`intervalMs` from now) and frees the lease.
 */
export async function finishServiceTask(
  db: Db,
  lease: ServiceTaskLease,
  outcome: ServiceTaskResult,
): Promise<FinishOutcome> {
  return db.transaction(async (tx) => {
    await boundWaits(tx);
    const [task] = await tx.select().from(serviceTasks).where(eq(serviceTasks.name, lease.name)).for("update");
    if (!task || task.leaseToken !== lease.token || task.leaseHolder === null) {
      return {
        recorded: false,
        consecutiveFailures: task?.consecutiveFailures ?? 0,
        disabled: false,
        disabledReason: null,
      };
    }
    const failures = outcome.ok ? 0 : task.consecutiveFailures + 1;
    const max = task.definition.maxConsecutiveFailures;
    const disable = !outcome.ok && max > 0 && failures >= max && task.enabled;
    const disabledReason = disable
      ? `failed ${failures} times in a row (maxConsecutiveFailures ${max}); last error: ${outcome.ok ? "" : outcome.error}`.slice(
          0,
          2000,
        )
      : task.disabledReason;
    await tx
      .update(serviceTasks)
      .set({
        leaseHolder: null,
        leaseExpiresAt: null,
        runStartedAt: null,
        lastFinishedAt: sql`clock_timestamp()`,
        lastDurationMs: outcome.durationMs,
        // Scheduled: every interval from the run's start (a long run is followed at once by the
        // next only if it overran); continuous: the pause after the run.
        nextRunAt:
          task.mode === "scheduled"
            ? sql`greatest(coalesce(${serviceTasks.runStartedAt}, clock_timestamp()) + ${`${task.intervalMs} milliseconds`}::interval, clock_timestamp())`
            : sql`clock_timestamp() + ${`${task.intervalMs} milliseconds`}::interval`,
        consecutiveFailures: failures,
        runs: sql`${serviceTasks.runs} + 1`,
        ...(outcome.ok
          ? { lastSuccessAt: sql`clock_timestamp()`, lastResult: outcome.result ?? null }
          : {
              lastError: outcome.error.slice(0, 2000),
              lastErrorAt: sql`clock_timestamp()`,
              failures: sql`${serviceTasks.failures} + 1`,
            }),
        ...(disable ? { enabled: false, disabledAt: sql`clock_timestamp()`, disabledReason } : {}),
        updatedAt: sql`clock_timestamp()`,
      })
      .where(eq(serviceTasks.name, lease.name));
    return {
      recorded: true,
      consecutiveFailures: failures,
      disabled: disable,
      disabledReason: disable ? disabledReason : null,
    };
  });
}

/**
 * Gives the lease back without recording a run (the worker is stopping and the run was abandoned):
 * the task stays due, so another worker takes it at once. Fenced by the token.
 */
export async function releaseServiceTask(db: Db, lease: ServiceTaskLease): Promise<boolean> {
  const rows = await db
    .update(serviceTasks)
    .set({
      leaseHolder: null,
      leaseExpiresAt: null,
      runStartedAt: null,
      // A requested run that was abandoned stays requested.
      ...(lease.cause === "requested"
        ? {
            runRequestedAt: sql`coalesce(${serviceTasks.runRequestedAt}, clock_timestamp())`,
            runRequestedBy: sql`coalesce(${serviceTasks.runRequestedBy}, ${lease.requestedBy})`,
          }
        : {}),
      updatedAt: sql`clock_timestamp()`,
    })
    .where(heldBy(lease))
    .returning({ name: serviceTasks.name });
  return rows.length === 1;
}

export type RequestRunOutcome =
  | { requested: ServiceTaskState }
  | { requested: null; reason: "unknown" | "disabled" | "running" | "conflict"; detail: string };

/**
 * Asks for a run now (`POST /api/admin/tasks/:name/run`): the next worker free to run it takes it
 * within its poll. Refused while the task is disabled, running, or kept from starting by a task it
 * conflicts with.
 */
export async function requestServiceTaskRun(db: Db, name: string, by: string): Promise<RequestRunOutcome> {
  return db.transaction(async (tx) => {
    await boundWaits(tx);
    await tx.execute(TAKE_LOCK);
    const all = await selectStates(tx);
    const task = all.find((row) => row.name === name);
    if (!task) return { requested: null, reason: "unknown", detail: `no task is named ${name}` };
    if (!task.enabled) {
      return {
        requested: null,
        reason: "disabled",
        detail: `${name} is disabled (${task.disabledReason ?? "by an operator"}); enable it first`,
      };
    }
    if (task.running) {
      return {
        requested: null,
        reason: "running",
        detail: `${name} is running on ${task.leaseHolder} since ${task.runStartedAt?.toISOString() ?? "now"}`,
      };
    }
    const conflict = conflictReason(task, all);
    if (conflict) return { requested: null, reason: "conflict", detail: `${name} ${conflict}` };
    await tx
      .update(serviceTasks)
      .set({ runRequestedAt: sql`clock_timestamp()`, runRequestedBy: by, updatedAt: sql`clock_timestamp()` })
      .where(eq(serviceTasks.name, name));
    const [row] = (await selectStates(tx)).filter((state) => state.name === name);
    return row ? { requested: row } : { requested: null, reason: "unknown", detail: `no task is named ${name}` };
  });
}

/** Enables a task (again), clearing its failure count and reason; undefined when unknown. */
export async function enableServiceTask(db: Db, name: string): Promise<ServiceTaskState | undefined> {
  await db
    .update(serviceTasks)
    .set({
      enabled: true,
      disabledAt: null,
      disabledReason: null,
      consecutiveFailures: 0,
      updatedAt: sql`clock_timestamp()`,
    })
    .where(eq(serviceTasks.name, name));
  return getServiceTask(db, name);
}

/** Disables a task by hand (a running run finishes); undefined when unknown. */
export async function disableServiceTask(db: Db, name: string, reason: string): Promise<ServiceTaskState | undefined> {
  await db
    .update(serviceTasks)
    .set({
      enabled: false,
      disabledAt: sql`clock_timestamp()`,
      disabledReason: reason,
      updatedAt: sql`clock_timestamp()`,
    })
    .where(eq(serviceTasks.name, name));
  return getServiceTask(db, name);
}
