/**
 * Alert rules, maintenance windows, and the evaluation that turns state changes into
 * notifications. Evaluation runs inside the transaction of the change that causes it (a run's
 * final transition, a schedule's pause), and writes its notifications there through the outbox
 * ({@link enqueueNotification}): a crash can neither lose an alert nor send it twice.
 *
 * Alerts follow state changes, not every run. Per rule and subject (a recording; a schedule for
 * `schedule.paused`; a suite for `suite_run.finished`), `alert_states` remembers whether it is
 * failing and how many runs failed in a row: `run.failed` is sent once when the count reaches the
 * rule's `afterConsecutiveFailures`, then again only as a reminder every `remindEveryHours`;
 * `run.recovered` once when a failing subject passes; `run.flaky` once per streak of flaky passes.
 * Quarantined runs and cancelled runs change nothing. Inside a maintenance window (silence or
 * pause) the state is kept up to date but nothing is sent.
 *
 * Every function takes `projectId` and filters by it: tenant isolation lives here.
 */
import { newId } from "@conveyor/core";
import { and, desc, eq, gt, inArray, lte, sql } from "drizzle-orm";
import { type Db, isUniqueViolation } from "../client.ts";
import {
  type AlertEventType,
  type AlertRule,
  type AlertScopeType,
  alertRules,
  alertStates,
  channels,
  type MaintenanceWindow,
  maintenanceWindows,
  recordings,
  runActions,
  runs,
  type Schedule,
  suiteRuns,
} from "../schema.ts";
import { enqueueNotification } from "./notifications.ts";
import { beforeCursor, type Page, toPage } from "./pagination.ts";
import type { Executor, Tx } from "./runs-transition.ts";
import { statusCounts, suiteRunStatus } from "./suites.ts";

/** What alert rules can listen to (the rest of AlertEventType is the system's own). */
export const ALERT_EVENTS = [
  "run.failed",
  "run.recovered",
  "run.flaky",
  "suite_run.finished",
  "schedule.paused",
  "run.dead_lettered",
] as const satisfies readonly AlertEventType[];

export const ALERT_SCOPES = [
  "project",
  "recording",
  "suite",
  "schedule",
  "tag",
] as const satisfies readonly AlertScopeType[];

export type AlertRuleInput = Pick<
  AlertRule,
  "name" | "scopeType" | "scopeValue" | "events" | "afterConsecutiveFailures" | "remindEveryHours" | "channelIds"
>;

export class AlertRuleNameTakenError extends Error {
  constructor(name: string) {
    super(`an alert rule named "${name}" already exists in this project`);
    this.name = "AlertRuleNameTakenError";
  }
}

export async function insertAlertRule(db: Db, projectId: string, input: AlertRuleInput): Promise<AlertRule> {
  try {
    const [row] = await db
      .insert(alertRules)
      .values({ id: newId("alertRule"), projectId, ...input })
      .returning();
    if (!row) throw new Error("alert rule insert returned no row");
    return row;
  } catch (error) {
    if (isUniqueViolation(error, "alert_rules_project_name_idx")) throw new AlertRuleNameTakenError(input.name);
    throw error;
  }
}

export async function getAlertRule(db: Db, projectId: string, id: string): Promise<AlertRule | undefined> {
  const [row] = await db
    .select()
    .from(alertRules)
    .where(and(eq(alertRules.projectId, projectId), eq(alertRules.id, id)));
  return row;
}

export async function listAlertRules(
  db: Db,
  projectId: string,
  options: { limit: number; cursor?: { createdAt: Date; id: string } },
): Promise<Page<AlertRule>> {
  const rows = await db
    .select()
    .from(alertRules)
    .where(
      and(
        eq(alertRules.projectId, projectId),
        options.cursor ? beforeCursor(alertRules.createdAt, alertRules.id, options.cursor) : undefined,
      ),
    )
    .orderBy(desc(alertRules.createdAt), desc(alertRules.id))
    .limit(options.limit + 1);
  return toPage(rows, options.limit);
}

export async function deleteAlertRule(db: Db, projectId: string, id: string): Promise<boolean> {
  const deleted = await db
    .delete(alertRules)
    .where(and(eq(alertRules.projectId, projectId), eq(alertRules.id, id)))
    .returning({ id: alertRules.id });
  return deleted.length > 0;
}

export type MaintenanceWindowInput = Pick<
  MaintenanceWindow,
  "scopeType" | "scopeValue" | "startsAt" | "endsAt" | "mode" | "reason"
>;

export async function insertMaintenanceWindow(
  db: Db,
  projectId: string,
  input: MaintenanceWindowInput,
): Promise<MaintenanceWindow> {
  const [row] = await db
    .insert(maintenanceWindows)
    .values({ id: newId("maintenanceWindow"), projectId, ...input })
    .returning();
  if (!row) throw new Error("maintenance window insert returned no row");
  return row;
}

export async function getMaintenanceWindow(
  db: Db,
  projectId: string,
  id: string,
): Promise<MaintenanceWindow | undefined> {
  const [row] = await db
    .select()
    .from(maintenanceWindows)
    .where(and(eq(maintenanceWindows.projectId, projectId), eq(maintenanceWindows.id, id)));
  return row;
}

export async function listMaintenanceWindows(
  db: Db,
  projectId: string,
  options: { limit: number; cursor?: { createdAt: Date; id: string } },
): Promise<Page<MaintenanceWindow>> {
  const rows = await db
    .select()
    .from(maintenanceWindows)
    .where(
      and(
        eq(maintenanceWindows.projectId, projectId),
        options.cursor ? beforeCursor(maintenanceWindows.createdAt, maintenanceWindows.id, options.cursor) : undefined,
      ),
    )
    .orderBy(desc(maintenanceWindows.createdAt), desc(maintenanceWindows.id))
    .limit(options.limit + 1);
  return toPage(rows, options.limit);
}

export async function deleteMaintenanceWindow(db: Db, projectId: string, id: string): Promise<boolean> {
  const deleted = await db
    .delete(maintenanceWindows)
    .where(and(eq(maintenanceWindows.projectId, projectId), eq(maintenanceWindows.id, id)))
    .returning({ id: maintenanceWindows.id });
  return deleted.length > 0;
}

/** What a run, suite run or schedule belongs to, for matching scopes. */
export interface AlertSubjectScope {
  recordingId?: string | null;
  suiteId?: string | null;
  scheduleId?: string | null;
  tags?: readonly string[];
}

function scopeMatches(scopeType: AlertScopeType, scopeValue: string | null, subject: AlertSubjectScope): boolean {
  switch (scopeType) {
    case "project":
      return true;
    case "recording":
      return scopeValue !== null && subject.recordingId === scopeValue;
    case "suite":
      return scopeValue !== null && subject.suiteId === scopeValue;
    case "schedule":
      return scopeValue !== null && subject.scheduleId === scopeValue;
    case "tag":
      return scopeValue !== null && (subject.tags ?? []).includes(scopeValue);
  }
}

/**
 * The maintenance window of the project covering `subject` at `at` (in one of `modes`), or null.
 * Windows are few per project: they are read and matched here.
 */
export async function activeMaintenanceWindow(
  tx: Executor,
  projectId: string,
  subject: AlertSubjectScope,
  at: Date,
  modes: readonly ("silence" | "pause")[] = ["silence", "pause"],
): Promise<MaintenanceWindow | null> {
  const windows = await tx
    .select()
    .from(maintenanceWindows)
    .where(
      and(
        eq(maintenanceWindows.projectId, projectId),
        lte(maintenanceWindows.startsAt, at),
        gt(maintenanceWindows.endsAt, at),
        inArray(maintenanceWindows.mode, [...modes]),
      ),
    )
    .orderBy(maintenanceWindows.endsAt);
  return windows.find((window) => scopeMatches(window.scopeType, window.scopeValue, subject)) ?? null;
}

async function rulesFor(
  tx: Tx,
  projectId: string,
  events: readonly AlertEventType[],
  subject: AlertSubjectScope,
): Promise<AlertRule[]> {
  const rows = await tx
    .select()
    .from(alertRules)
    .where(
      and(
        eq(alertRules.projectId, projectId),
        eq(alertRules.enabled, true),
        sql`${alertRules.events} && ${sql.param([...events])}::text[]`,
      ),
    )
    .orderBy(alertRules.id);
  return rows.filter((rule) => scopeMatches(rule.scopeType, rule.scopeValue, subject));
}

/** Locks (creating if needed) the state of a rule for a subject. */
async function stateOf(tx: Tx, rule: AlertRule, subject: string) {
  await tx.insert(alertStates).values({ ruleId: rule.id, subject, projectId: rule.projectId }).onConflictDoNothing();
  const [state] = await tx
    .select()
    .from(alertStates)
    .where(and(eq(alertStates.ruleId, rule.id), eq(alertStates.subject, subject)))
    .for("update");
  if (!state) throw new Error(`alert state ${rule.id}/${subject} vanished`);
  return state;
}

/** Whether the project has an enabled alert rule (most have none: then nothing else is read). */
export async function hasAlertRules(tx: Executor, projectId: string): Promise<boolean> {
  const [any] = await tx
    .select({ id: alertRules.id })
    .from(alertRules)
    .where(and(eq(alertRules.projectId, projectId), eq(alertRules.enabled, true)))
    .limit(1);
  return any !== undefined;
}

/** What the alert code read about a run that just ended. */
interface EndedRun {
  id: string;
  projectId: string;
  status: string;
  recordingId: string | null;
  name: string;
  attempt: number;
  flaky: boolean;
  quarantined: boolean;
  deadLetteredAt: Date | null;
  errorKind: string | null;
  errorMessage: string | null;
  failedActionIndex: number | null;
  durationMs: number | null;
  finishedAt: Date | null;
  scheduleId: string | null;
  suiteRunId: string | null;
  suiteId: string | null;
  tags: string[];
}

async function readEndedRun(tx: Tx, projectId: string, runId: string): Promise<EndedRun | null> {
  const [row] = await tx
    .select({
      id: runs.id,
      projectId: runs.projectId,
      status: runs.status,
      recordingId: runs.recordingId,
      name: sql<string>`${runs.recording}->>'name'`,
      attempt: runs.attempt,
      flaky: runs.flaky,
      quarantined: runs.quarantined,
      deadLetteredAt: runs.deadLetteredAt,
      errorKind: runs.errorKind,
      errorMessage: runs.errorMessage,
      failedActionIndex: runs.failedActionIndex,
      durationMs: runs.durationMs,
      finishedAt: runs.finishedAt,
      scheduleId: runs.scheduleId,
      suiteRunId: runs.suiteRunId,
      suiteId: suiteRuns.suiteId,
      tags: recordings.tags,
    })
    .from(runs)
    .leftJoin(suiteRuns, eq(suiteRuns.id, runs.suiteRunId))
    .leftJoin(recordings, eq(recordings.id, runs.recordingId))
    .where(and(eq(runs.projectId, projectId), eq(runs.id, runId)));
  return row ? { ...row, name: row.name ?? "", tags: row.tags ?? [] } : null;
}

/** The run's failing action, for the message: its type and screenshot. */
async function failingAction(tx: Tx, run: EndedRun) {
  if (run.failedActionIndex === null) return null;
  const [action] = await tx
    .select({
      index: runActions.index,
      type: runActions.type,
      screenshotKey: runActions.screenshotKey,
      errorMessage: runActions.errorMessage,
    })
    .from(runActions)
    .where(
      and(
        eq(runActions.runId, run.id),
        eq(runActions.attempt, run.attempt),
        eq(runActions.index, run.failedActionIndex),
      ),
    );
  return action ?? null;
}

function artifactPath(runId: string, key: string): string {
  return `/api/runs/${runId}/artifacts/${key.startsWith(`${runId}/`) ? key.slice(runId.length + 1) : key}`;
}

async function runPayload(tx: Tx, run: EndedRun) {
  const action = await failingAction(tx, run);
  const screenshotUrl = action?.screenshotKey ? artifactPath(run.id, action.screenshotKey) : null;
  const failed = run.status === "failed" || run.status === "errored";
  return {
    // What Slack and email show (worker/src/notify/render.ts): the failing action and its error.
    failure: failed
      ? {
          action: run.failedActionIndex === null ? null : { index: run.failedActionIndex, type: action?.type ?? null },
          error: action?.errorMessage ?? run.errorMessage,
          screenshotUrl,
        }
      : null,
    screenshotUrl,
    run: {
      id: run.id,
      status: run.status,
      flaky: run.flaky,
      attempt: run.attempt,
      durationMs: run.durationMs,
      finishedAt: run.finishedAt?.toISOString() ?? null,
      error: run.errorKind ? { kind: run.errorKind, message: run.errorMessage } : null,
      failedAction: action
        ? { index: action.index, type: action.type, error: action.errorMessage }
        : run.failedActionIndex === null
          ? null
          : { index: run.failedActionIndex, type: null, error: run.errorMessage },
      scheduleId: run.scheduleId,
      suiteRunId: run.suiteRunId,
    },
    recording: { id: run.recordingId, name: run.name },
    links: { run: `/api/runs/${run.id}`, screenshot: screenshotUrl },
  };
}

/** What one evaluation decided (for logs and tests). */
export interface AlertDecision {
  ruleId: string;
  type: AlertEventType;
  subject: string;
  notificationId: string | null;
  /** Why nothing was sent although the rule fired (a maintenance window). */
  silencedBy?: string;
}

/**
 * After a run reached its final status in `tx`: updates every matching rule's state for the
 * run's recording and writes the notifications that state change calls for.
 */
export async function alertOnRunEndInTx(
  tx: Tx,
  projectId: string,
  runId: string,
  now: Date = new Date(),
): Promise<AlertDecision[]> {
  const decisions: AlertDecision[] = [];
  const run = await readEndedRun(tx, projectId, runId);
  if (!run || run.status === "cancelled" || run.quarantined) return decisions;
  const scope: AlertSubjectScope = {
    recordingId: run.recordingId,
    suiteId: run.suiteId,
    scheduleId: run.scheduleId,
    tags: run.tags,
  };
  const failed = run.status === "failed" || run.status === "errored";
  const events: AlertEventType[] = failed
    ? ["run.failed", "run.dead_lettered"]
    : ["run.recovered", "run.flaky", "run.failed"];
  const rules = await rulesFor(tx, projectId, events, scope);
  if (rules.length === 0) return decisions;
  const silence = await activeMaintenanceWindow(tx, projectId, scope, now);
  const subject = run.recordingId ? `recording:${run.recordingId}` : `inline:${run.name}`;
  let payload: Awaited<ReturnType<typeof runPayload>> | undefined;
  const send = async (rule: AlertRule, type: AlertEventType, extra: Record<string, unknown>) => {
    if (silence) {
      decisions.push({ ruleId: rule.id, type, subject, notificationId: null, silencedBy: silence.id });
      return;
    }
    payload ??= await runPayload(tx, run);
    const { notification } = await enqueueNotification(tx, {
      projectId,
      type,
      channelIds: rule.channelIds,
      ruleId: rule.id,
      runId: run.id,
      suiteRunId: run.suiteRunId,
      scheduleId: run.scheduleId,
      recordingId: run.recordingId,
      payload: { event: type, rule: { id: rule.id, name: rule.name }, ...payload, ...extra },
      at: now,
    });
    decisions.push({ ruleId: rule.id, type, subject, notificationId: notification.id });
  };

  for (const rule of rules) {
    const wants = (type: AlertEventType) => rule.events.includes(type);
    if (failed && run.deadLetteredAt && wants("run.dead_lettered")) {
      await send(rule, "run.dead_lettered", {});
    }
    const tracksFailures = wants("run.failed") || wants("run.recovered");
    if (tracksFailures) {
      const state = await stateOf(tx, rule, subject);
      if (failed) {
        const consecutive = state.consecutiveFailures + 1;
        let { failing, alertedAt, lastReminderAt } = state;
        if (!failing && consecutive >= rule.afterConsecutiveFailures) {
          failing = true;
          alertedAt = now;
          lastReminderAt = null;
          if (wants("run.failed"))
            await send(rule, "run.failed", { consecutiveFailures: consecutive, reminder: false });
        } else if (failing && rule.remindEveryHours !== null && wants("run.failed")) {
          const since = (lastReminderAt ?? alertedAt ?? now).getTime();
          if (now.getTime() - since >= rule.remindEveryHours * 3_600_000) {
            lastReminderAt = now;
            await send(rule, "run.failed", { consecutiveFailures: consecutive, reminder: true });
          }
        }
        await tx
          .update(alertStates)
          .set({
            consecutiveFailures: consecutive,
            failing,
            alertedAt,
            lastReminderAt,
            lastRunId: run.id,
            updatedAt: now,
          })
          .where(and(eq(alertStates.ruleId, rule.id), eq(alertStates.subject, subject)));
      } else {
        if (state.failing && wants("run.recovered")) {
          await send(rule, "run.recovered", { failedRunsBefore: state.consecutiveFailures });
        }
        await tx
          .update(alertStates)
          .set({ consecutiveFailures: 0, failing: false, lastRunId: run.id, updatedAt: now })
          .where(and(eq(alertStates.ruleId, rule.id), eq(alertStates.subject, subject)));
      }
    }
    if (!failed && wants("run.flaky")) {
      // One alert per streak of flaky passes: a clean pass ends the streak.
      const flakyState = await stateOf(tx, rule, `flaky:${subject}`);
      if (run.flaky && !flakyState.failing) await send(rule, "run.flaky", {});
      if (run.flaky !== flakyState.failing) {
        await tx
          .update(alertStates)
          .set({ failing: run.flaky, lastRunId: run.id, updatedAt: now, ...(run.flaky ? { alertedAt: now } : {}) })
          .where(and(eq(alertStates.ruleId, rule.id), eq(alertStates.subject, `flaky:${subject}`)));
      }
    }
  }
  return decisions;
}

/**
 * When the run that just ended in `tx` was its suite run's last unfinished one: the
 * `suite_run.finished` notifications (the suite run's row is locked by the caller).
 */
export async function alertOnSuiteRunEndInTx(
  tx: Tx,
  projectId: string,
  suiteRunId: string,
  now: Date = new Date(),
): Promise<AlertDecision[]> {
  const decisions: AlertDecision[] = [];
  const [unfinished] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(runs)
    .where(
      and(eq(runs.projectId, projectId), eq(runs.suiteRunId, suiteRunId), inArray(runs.status, ["queued", "running"])),
    );
  if (Number(unfinished?.n ?? 0) > 0) return decisions;
  const [suiteRun] = await tx
    .select()
    .from(suiteRuns)
    .where(and(eq(suiteRuns.projectId, projectId), eq(suiteRuns.id, suiteRunId)));
  if (!suiteRun) return decisions;
  const children = await tx
    .select({ status: runs.status, flaky: runs.flaky, quarantined: runs.quarantined, scheduleId: runs.scheduleId })
    .from(runs)
    .where(and(eq(runs.projectId, projectId), eq(runs.suiteRunId, suiteRunId)));
  const scope: AlertSubjectScope = {
    suiteId: suiteRun.suiteId,
    scheduleId: children.find((child) => child.scheduleId)?.scheduleId ?? null,
  };
  const rules = await rulesFor(tx, projectId, ["suite_run.finished"], scope);
  if (rules.length === 0) return decisions;
  const silence = await activeMaintenanceWindow(tx, projectId, scope, now);
  // As GET /api/suite-runs/:id shows it.
  const counts = statusCounts(children);
  const status = suiteRunStatus(counts);
  for (const rule of rules) {
    const subject = `suite:${suiteRun.suiteId ?? suiteRun.id}`;
    if (silence) {
      decisions.push({
        ruleId: rule.id,
        type: "suite_run.finished",
        subject,
        notificationId: null,
        silencedBy: silence.id,
      });
      continue;
    }
    const { notification } = await enqueueNotification(tx, {
      projectId,
      type: "suite_run.finished",
      channelIds: rule.channelIds,
      ruleId: rule.id,
      suiteRunId: suiteRun.id,
      scheduleId: scope.scheduleId ?? null,
      payload: {
        event: "suite_run.finished",
        rule: { id: rule.id, name: rule.name },
        suite: { id: suiteRun.suiteId, name: suiteRun.suiteName },
        suiteRun: {
          id: suiteRun.id,
          suiteId: suiteRun.suiteId,
          suiteName: suiteRun.suiteName,
          status,
          total: suiteRun.total,
          counts,
          ci: suiteRun.ci,
        },
        links: { suiteRun: `/api/suite-runs/${suiteRun.id}` },
      },
      at: now,
    });
    decisions.push({ ruleId: rule.id, type: "suite_run.finished", subject, notificationId: notification.id });
  }
  return decisions;
}

/** After a schedule was paused in `tx` for its failures: the `schedule.paused` notifications. */
export async function alertOnSchedulePausedInTx(
  tx: Tx,
  schedule: Pick<Schedule, "id" | "projectId" | "name" | "recordingId" | "suiteId">,
  reason: string,
  now: Date = new Date(),
): Promise<AlertDecision[]> {
  const decisions: AlertDecision[] = [];
  const scope: AlertSubjectScope = {
    scheduleId: schedule.id,
    recordingId: schedule.recordingId,
    suiteId: schedule.suiteId,
  };
  const rules = await rulesFor(tx, schedule.projectId, ["schedule.paused"], scope);
  if (rules.length === 0) return decisions;
  const silence = await activeMaintenanceWindow(tx, schedule.projectId, scope, now);
  for (const rule of rules) {
    const subject = `schedule:${schedule.id}`;
    if (silence) {
      decisions.push({
        ruleId: rule.id,
        type: "schedule.paused",
        subject,
        notificationId: null,
        silencedBy: silence.id,
      });
      continue;
    }
    const { notification } = await enqueueNotification(tx, {
      projectId: schedule.projectId,
      type: "schedule.paused",
      channelIds: rule.channelIds,
      ruleId: rule.id,
      scheduleId: schedule.id,
      recordingId: schedule.recordingId,
      payload: {
        event: "schedule.paused",
        rule: { id: rule.id, name: rule.name },
        schedule: { id: schedule.id, name: schedule.name, reason },
        reason,
        links: { schedule: `/api/schedules/${schedule.id}`, fires: `/api/schedules/${schedule.id}/fires` },
      },
      at: now,
    });
    decisions.push({ ruleId: rule.id, type: "schedule.paused", subject, notificationId: notification.id });
  }
  return decisions;
}

/** Which of `ids` are channels of the project (a rule may name only those). */
export async function existingChannelIds(db: Db, projectId: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .select({ id: channels.id })
    .from(channels)
    .where(and(eq(channels.projectId, projectId), inArray(channels.id, [...ids])));
  return new Set(rows.map((row) => row.id));
}
