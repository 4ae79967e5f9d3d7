/**
 * The service's own background tasks, as every worker registers them with its orchestrator
 * (orchestrator.ts); docs/operations.md#service-tasks describes each for operators.
 */
import type { ArtifactStore } from "@conveyor/artifacts";
import { type DbHandle, pruneRunHistory, rollupRecordingStats } from "@conveyor/db";
import type { WorkerEnv } from "./env.ts";
import type { Notifier } from "./notify/notifier.ts";
import type { ServiceTaskDefinition } from "./orchestrator.ts";
import type { Reconciler } from "./reconciler.ts";
import type { Scheduler } from "./scheduler.ts";

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** The built-in task names. */
export const SERVICE_TASKS = {
  reconciler: "reconciler",
  scheduleClock: "schedule-clock",
  runRetention: "run-retention",
  artifactRetention: "artifact-retention",
  notificationOutbox: "notification-outbox",
  statsRollup: "stats-rollup",
} as const;

export interface BuiltInTaskDeps {
  db: DbHandle;
  artifacts: ArtifactStore;
  reconciler: Reconciler;
  scheduler: Scheduler;
  /** The notifications subsystem; without it there is no outbox sweep. */
  notifier?: Notifier;
}

/** The built-in tasks this environment asks for (a task whose interval is 0 is left out). */
export function builtInServiceTasks(
  env: Pick<WorkerEnv, "RECONCILE_INTERVAL_MS" | "SCHEDULE_TICK_MS" | "RUN_RETENTION_DAYS" | "ARTIFACT_RETENTION_DAYS">,
  deps: BuiltInTaskDeps,
): ServiceTaskDefinition[] {
  const tasks: ServiceTaskDefinition[] = [];
  if (env.RECONCILE_INTERVAL_MS > 0) {
    tasks.push({
      name: SERVICE_TASKS.reconciler,
      description:
        "re-enqueues queued runs whose job was lost and hands back the runs of dead workers (RECONCILE_INTERVAL_MS)",
      mode: "scheduled",
      intervalMs: env.RECONCILE_INTERVAL_MS,
      timeoutMs: Math.max(60_000, 10 * env.RECONCILE_INTERVAL_MS),
      priority: 1,
      // Never disabled: it is what recovers runs after an outage; its failures are logged.
      maxConsecutiveFailures: 0,
      // Short, so a dead holder's runs are not left waiting: another worker takes over.
      leaseMs: Math.max(3 * env.RECONCILE_INTERVAL_MS, 10_000),
      run: async () => {
        try {
          return { delivered: (await deps.reconciler.pass()).length };
        } finally {
          await deps.reconciler.releaseLease();
        }
      },
    });
  }
  if (env.SCHEDULE_TICK_MS > 0) {
    tasks.push({
      name: SERVICE_TASKS.scheduleClock,
      description: "upserts the schedules' clock (the schedule-tick job scheduler), so a Redis flush heals",
      mode: "scheduled",
      intervalMs: 30_000,
      timeoutMs: 10_000,
      maxRetries: 2,
      retryDelayMs: 500,
      priority: 2,
      maxConsecutiveFailures: 0,
      run: async () => {
        await deps.scheduler.heal();
        return { every: env.SCHEDULE_TICK_MS };
      },
    });
  }
  tasks.push({
    name: SERVICE_TASKS.runRetention,
    description:
      "deletes finished runs (actions, events, artifacts), suite runs and schedule fires older than RUN_RETENTION_DAYS",
    mode: "scheduled",
    intervalMs: HOUR_MS,
    timeoutMs: 30 * 60_000,
    maxRetries: 2,
    priority: 8,
    maxConsecutiveFailures: 5,
    // Not while a reconciliation pass is requeueing runs it would look at.
    dependsOn: [...(env.RECONCILE_INTERVAL_MS > 0 ? [SERVICE_TASKS.reconciler] : [])],
    run: async ({ signal }) => {
      if (env.RUN_RETENTION_DAYS <= 0) return { off: true };
      const olderThan = new Date(Date.now() - env.RUN_RETENTION_DAYS * DAY_MS);
      const pruned = await pruneRunHistory(deps.db.db, { olderThan, signal });
      const artifacts = await deps.artifacts.sweep(olderThan, { signal });
      return { ...pruned, artifacts, olderThan: olderThan.toISOString() };
    },
  });
  tasks.push({
    name: SERVICE_TASKS.artifactRetention,
    description: "deletes artifacts older than ARTIFACT_RETENTION_DAYS",
    mode: "scheduled",
    intervalMs: DAY_MS,
    timeoutMs: HOUR_MS,
    maxRetries: 2,
    priority: 9,
    maxConsecutiveFailures: 5,
    // Both delete artifacts: never at once.
    blocks: [SERVICE_TASKS.runRetention],
    run: async ({ signal }) => {
      if (env.ARTIFACT_RETENTION_DAYS <= 0) return { off: true };
      const olderThan = new Date(Date.now() - env.ARTIFACT_RETENTION_DAYS * DAY_MS);
      const deleted = await deps.artifacts.sweep(olderThan, { signal });
      return { deleted, olderThan: olderThan.toISOString() };
    },
  });
  tasks.push({
    name: SERVICE_TASKS.statsRollup,
    description:
      "folds finished runs into each recording's daily stats (GET /api/recordings/:id/stats), from where it left off",
    mode: "scheduled",
    intervalMs: 60_000,
    timeoutMs: 5 * 60_000,
    maxRetries: 2,
    priority: 6,
    maxConsecutiveFailures: 10,
    // Retention deletes the runs it reads: not at the same time (a run deleted before it was folded in is not counted).
    blocks: [SERVICE_TASKS.runRetention],
    run: async ({ signal }) => {
      // Batches until caught up (after an outage the backlog is folded in a few passes of one run).
      let runs = 0;
      let passes = 0;
      let last: Awaited<ReturnType<typeof rollupRecordingStats>> | undefined;
      do {
        last = await rollupRecordingStats(deps.db.db);
        runs += last.runs;
        passes += 1;
      } while (last.runs > 0 && passes < 20 && !signal.aborted);
      return { runs, passes, prunedDays: last.prunedDays, cursorAt: last.cursorAt };
    },
  });
  if (deps.notifier) {
    const notifier = deps.notifier;
    tasks.push({
      name: SERVICE_TASKS.notificationOutbox,
      description:
        "hands due notification deliveries whose job was lost (or whose worker died during an attempt) to the notifications queue",
      mode: "scheduled",
      intervalMs: 5_000,
      timeoutMs: 60_000,
      maxRetries: 2,
      retryDelayMs: 500,
      priority: 3,
      // Never disabled: it is what delivers after an outage; its failures are logged.
      maxConsecutiveFailures: 0,
      run: async () => notifier.sweep(),
    });
  }
  return tasks;
}
