import { ACTION_STATUSES, API_ERROR_STATUS, type ApiErrorCode, RUN_EVENT_TYPES, RUN_STATUSES } from "@conveyor/core";
import {
  type ApiKey,
  type Project,
  type RecordingRow,
  type Run,
  type RunAction,
  type RunAttempt,
  type Schedule,
  type ScheduleFire,
  type StatusCounts,
  type Suite,
  type SuiteRun,
  statusCounts,
  suiteRunStatus,
  upcomingFires,
} from "@conveyor/db";
import { z } from "zod";

/** How runs, actions and recordings look on the wire. Secrets (variable values) never leave. */

export function artifactUrl(runId: string, key: string): string {
  return `/api/runs/${runId}/artifacts/${key.startsWith(`${runId}/`) ? key.slice(runId.length + 1) : key}`;
}

export function runView(run: Run) {
  return {
    id: run.id,
    projectId: run.projectId,
    recordingId: run.recordingId,
    name: run.recording.name,
    status: run.status,
    priority: run.priority,
    attempt: run.attempt,
    maxAttempts: run.maxAttempts,
    retries: run.retries,
    testFailures: run.testFailures,
    flaky: run.flaky,
    quarantined: run.quarantined,
    timeoutMs: run.timeoutMs,
    actionTimeoutMs: run.actionTimeoutMs,
    variables: Object.keys(run.variables),
    options: run.options,
    cancelRequestedAt: run.cancelRequestedAt?.toISOString() ?? null,
    deadLetteredAt: run.deadLetteredAt?.toISOString() ?? null,
    retryOf: run.retryOf,
    suiteRunId: run.suiteRunId,
    held: run.held,
    scheduleId: run.scheduleId,
    ci: run.ci,
    worker: run.worker,
    createdAt: run.createdAt.toISOString(),
    startedAt: run.startedAt?.toISOString() ?? null,
    finishedAt: run.finishedAt?.toISOString() ?? null,
    durationMs: run.durationMs,
    counts: {
      total: run.actionsTotal,
      passed: run.actionsPassed,
      failed: run.actionsFailed,
      skipped: run.actionsSkipped,
    },
    error: run.errorMessage
      ? { kind: run.errorKind, code: run.errorCode, message: run.errorMessage, actionIndex: run.failedActionIndex }
      : null,
    artifacts: {
      video: run.artifacts.video ? artifactUrl(run.id, run.artifacts.video) : null,
      trace: run.artifacts.trace ? artifactUrl(run.id, run.artifacts.trace) : null,
    },
    links: { self: `/api/runs/${run.id}`, events: `/api/runs/${run.id}/events` },
  };
}

export function actionView(runId: string, action: RunAction) {
  return {
    index: action.index,
    actionId: action.actionId,
    type: action.type,
    status: action.status,
    startedAt: action.startedAt.toISOString(),
    durationMs: action.durationMs,
    selectorUsed: action.selectorUsed,
    selectorsTried: action.selectorsTried,
    pageUrl: action.pageUrl,
    error: action.errorMessage
      ? { kind: action.errorKind, code: action.errorCode, message: action.errorMessage }
      : null,
    screenshotUrl: action.screenshotKey ? artifactUrl(runId, action.screenshotKey) : null,
    blockedRequests: action.blockedRequests,
  };
}

/**
 * One ended attempt of a run: how it ended and its evidence (its action results, with their
 * screenshots, and its video and trace).
 */
export function attemptView(runId: string, attempt: RunAttempt, actions: RunAction[]) {
  return {
    attempt: attempt.attempt,
    status: attempt.status as (typeof ATTEMPT_STATUSES)[number],
    worker: attempt.worker,
    startedAt: attempt.startedAt?.toISOString() ?? null,
    finishedAt: attempt.finishedAt?.toISOString() ?? null,
    durationMs: attempt.durationMs,
    counts: { passed: attempt.actionsPassed, failed: attempt.actionsFailed, skipped: attempt.actionsSkipped },
    error: attempt.errorMessage
      ? {
          kind: attempt.errorKind,
          code: attempt.errorCode,
          message: attempt.errorMessage,
          actionIndex: attempt.failedActionIndex,
        }
      : null,
    failedActionIndex: attempt.failedActionIndex,
    artifacts: {
      video: attempt.artifacts.video ? artifactUrl(runId, attempt.artifacts.video) : null,
      trace: attempt.artifacts.trace ? artifactUrl(runId, attempt.artifacts.trace) : null,
    },
    actions: actions.map((action) => actionView(runId, action)),
  };
}

/** A recording's quarantine while it lasts; null when there is none or it expired. */
export function quarantineView(row: RecordingRow, now: Date = new Date()) {
  if (!row.quarantinedUntil || row.quarantinedUntil <= now) return null;
  return {
    reason: row.quarantineReason ?? "",
    until: row.quarantinedUntil.toISOString(),
    since: (row.quarantinedAt ?? row.updatedAt).toISOString(),
  };
}

export function recordingView(row: RecordingRow, now: Date = new Date()) {
  return {
    id: row.id,
    name: row.name,
    sourceFormat: row.sourceFormat,
    actionCount: row.actionCount,
    tags: row.tags,
    quarantine: quarantineView(row, now),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** A suite's defaults as shown: variables by name only (their values never leave). */
function suiteDefaultsView(defaults: Suite["defaults"]) {
  const { variables, ...rest } = defaults;
  return variables === undefined ? rest : { ...rest, variables: Object.keys(variables).sort() };
}

export function suiteView(suite: Suite) {
  return {
    id: suite.id,
    name: suite.name,
    recordingIds: suite.recordingIds,
    tagQuery: suite.tagQuery,
    defaults: suiteDefaultsView(suite.defaults),
    maxParallel: suite.maxParallel,
    failFast: suite.failFast,
    createdAt: suite.createdAt.toISOString(),
    updatedAt: suite.updatedAt.toISOString(),
    links: { self: `/api/suites/${suite.id}`, runs: `/api/suites/${suite.id}/runs` },
  };
}

/** A suite run as listed: its status and its children's counts by status. */
export function suiteRunSummaryView(suiteRun: SuiteRun, counts: StatusCounts) {
  return {
    id: suiteRun.id,
    suiteId: suiteRun.suiteId,
    suiteName: suiteRun.suiteName,
    status: suiteRunStatus(counts),
    total: suiteRun.total,
    counts: {
      queued: counts.queued ?? 0,
      running: counts.running ?? 0,
      passed: counts.passed ?? 0,
      failed: counts.failed ?? 0,
      errored: counts.errored ?? 0,
      cancelled: counts.cancelled ?? 0,
      flaky: counts.flaky ?? 0,
      quarantined: counts.quarantined ?? 0,
    },
    ci: suiteRun.ci,
    maxParallel: suiteRun.maxParallel,
    failFast: suiteRun.failFast,
    failedFastAt: suiteRun.failedFastAt?.toISOString() ?? null,
    cancelledAt: suiteRun.cancelledAt?.toISOString() ?? null,
    createdAt: suiteRun.createdAt.toISOString(),
    links: { self: `/api/suite-runs/${suiteRun.id}`, runs: `/api/runs?suiteRunId=${suiteRun.id}` },
  };
}

/** A suite run with its child runs, in the suite's order. */
export function suiteRunView(suiteRun: SuiteRun, runs: Run[]) {
  return { ...suiteRunSummaryView(suiteRun, statusCounts(runs)), runs: runs.map(runView) };
}

export function projectView(project: Project) {
  return {
    id: project.id,
    name: project.name,
    createdAt: project.createdAt.toISOString(),
    updatedAt: project.updatedAt.toISOString(),
    egress: { allow: project.egressAllow },
    allowExpressions: project.allowExpressions,
    limits: project.limits,
  };
}

/** An API key as listed: never its secret (shown once, at creation), never its hash. */
export function apiKeyView(key: ApiKey, now: Date = new Date()) {
  const status: "active" | "expired" | "revoked" = key.revokedAt
    ? "revoked"
    : key.expiresAt && key.expiresAt <= now
      ? "expired"
      : "active";
  return {
    id: key.id,
    name: key.name,
    prefix: key.keyPrefix,
    scopes: key.scopes,
    status,
    createdAt: key.createdAt.toISOString(),
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    expiresAt: key.expiresAt?.toISOString() ?? null,
    revokedAt: key.revokedAt?.toISOString() ?? null,
    replacedBy: key.replacedBy,
  };
}

// ---- Response schemas ---------------------------------------------------------------------------
// What each view above looks like, for the routes' `schema.response`: they document the replies in
// the OpenAPI document (/docs) and serialize them. A serialized reply keeps only the properties its
// schema names, so a field added to a view must be added here too (the API tests compare replies
// with what the views return).

/** The one error envelope of every failure (plugins/errors.ts). */
export const errorEnvelope = z
  .object({
    error: z.object({
      code: z.enum(Object.keys(API_ERROR_STATUS) as [ApiErrorCode, ...ApiErrorCode[]]),
      message: z.string(),
      details: z.unknown().optional().describe("e.g. `fields`: [{ field, message }] for validation errors"),
      requestId: z.string().describe("Also in the X-Request-Id header and on the log lines"),
    }),
  })
  .describe("Error");

/** The error replies every route may give: 4xx (bad input, no key, not found, …) and 5xx. */
export const errorResponses = { "4xx": errorEnvelope, "5xx": errorEnvelope } as const;

/** A page of `item`s, newest first; `nextCursor` is null on the last page. */
export function pageResponse<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

const jsonObject = z.record(z.string(), z.unknown());

const ciResponse = z
  .object({
    commit: z.string().optional(),
    branch: z.string().optional(),
    buildId: z.string().optional(),
    url: z.string().optional(),
  })
  .nullable();

export const runResponse = z.object({
  id: z.string(),
  projectId: z.string(),
  recordingId: z.string().nullable(),
  name: z.string().describe("The recording's name"),
  status: z.enum(RUN_STATUSES),
  priority: z.number(),
  attempt: z.number().describe("Executions started so far (0 while queued for the first time)"),
  maxAttempts: z.number().describe("Attempts after infrastructure errors, the first included (MAX_RETRIES + 1)"),
  retries: z.number().describe("Test-level retries: a failed attempt runs again up to this many times (0-5)"),
  testFailures: z.number().describe("Attempts that failed and were retried"),
  flaky: z.boolean().describe("Passed after at least one failed attempt"),
  quarantined: z
    .boolean()
    .describe("Ended while its recording was quarantined: its failure fails no suite run and alerts no one"),
  timeoutMs: z.number(),
  actionTimeoutMs: z.number(),
  variables: z.array(z.string()).describe("Names only: values never leave"),
  options: jsonObject.describe("How the run replays (docs/api.md)"),
  cancelRequestedAt: z.string().nullable(),
  deadLetteredAt: z.string().nullable(),
  retryOf: z.string().nullable(),
  suiteRunId: z.string().nullable().describe("The suite run this run belongs to"),
  held: z
    .boolean()
    .describe("Queued, waiting for a slot of its suite run's maxParallel (no job yet); false once released"),
  scheduleId: z.string().nullable().describe("The schedule that started the run (or its suite run)"),
  ci: ciResponse.describe("CI metadata sent with the run or its suite run"),
  worker: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  counts: z.object({ total: z.number(), passed: z.number(), failed: z.number(), skipped: z.number() }),
  error: z
    .object({
      kind: z.string().nullable(),
      code: z.string().nullable(),
      message: z.string(),
      actionIndex: z.number().nullable(),
    })
    .nullable(),
  artifacts: z.object({ video: z.string().nullable(), trace: z.string().nullable() }),
  links: z.object({ self: z.string(), events: z.string() }),
});

/**
 * The serializer of `POST /api/runs`'s 202 (a new run, or the run an Idempotency-Key already holds):
 * `runView`'s object as it is. The other routes encode their replies through their zod schema,
 * which checks every field of a value the code has just built; on the submission path that was
 * a few percent of the API's CPU per request (docs/benchmarks.md). `runView` builds exactly the
 * fields `runResponse` names (routes-contract and enqueue-path tests hold the reply to it).
 */
export function serializeRunReply(view: ReturnType<typeof runView>): string {
  return JSON.stringify(view);
}

export const actionResponse = z.object({
  index: z.number(),
  actionId: z.string(),
  type: z.string(),
  status: z.enum(ACTION_STATUSES),
  startedAt: z.string(),
  durationMs: z.number(),
  selectorUsed: z.string().nullable(),
  selectorsTried: z.array(z.string()).nullable(),
  pageUrl: z.string().nullable(),
  error: z.object({ kind: z.string().nullable(), code: z.string().nullable(), message: z.string() }).nullable(),
  screenshotUrl: z.string().nullable(),
  blockedRequests: z
    .object({ count: z.number(), first: z.array(z.object({ url: z.string(), rule: z.string() })) })
    .nullable()
    .describe("Requests the egress policy refused during the action"),
});

export const runEventResponse = z.object({
  id: z.number(),
  type: z.string().describe(`One of: ${RUN_EVENT_TYPES.join(", ")}`),
  attempt: z.number(),
  worker: z.string().nullable(),
  data: jsonObject,
  createdAt: z.string(),
});

/** How an attempt ended: `retried` when it failed (or met an infrastructure error) and ran again. */
export const ATTEMPT_STATUSES = ["retried", "passed", "failed", "errored", "cancelled"] as const;

export const attemptResponse = z.object({
  attempt: z.number(),
  status: z.enum(ATTEMPT_STATUSES),
  worker: z.string().nullable(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
  counts: z.object({ passed: z.number(), failed: z.number(), skipped: z.number() }),
  error: z
    .object({
      kind: z.string().nullable(),
      code: z.string().nullable(),
      message: z.string(),
      actionIndex: z.number().nullable(),
    })
    .nullable(),
  failedActionIndex: z.number().nullable(),
  artifacts: z.object({ video: z.string().nullable(), trace: z.string().nullable() }),
  actions: z.array(actionResponse).describe("This attempt's action results, screenshots included"),
});

export const quarantineResponse = z
  .object({
    reason: z.string(),
    until: z.string().describe("It lifts by itself then"),
    since: z.string(),
  })
  .nullable()
  .describe("While quarantined its runs still run, but their failures fail no suite run and alert no one");

export const recordingResponse = z.object({
  id: z.string(),
  name: z.string(),
  sourceFormat: z
    .string()
    .describe(
      'What it was sent as: "conveyor", "saveaction" or "chrome-recorder" (an imported one keeps its original: GET /api/recordings/:id/source)',
    ),
  actionCount: z.number(),
  tags: z.array(z.string()).describe("Labels suites select recordings by"),
  quarantine: quarantineResponse,
  createdAt: z.string(),
  updatedAt: z.string(),
});

const tagQueryResponse = z
  .object({
    all: z.array(z.string()).optional(),
    any: z.array(z.string()).optional(),
    none: z.array(z.string()).optional(),
  })
  .nullable();

export const suiteResponse = z.object({
  id: z.string(),
  name: z.string(),
  recordingIds: z.array(z.string()).describe("Recordings run in this order (ids that no longer exist are skipped)"),
  tagQuery: tagQueryResponse.describe("Recordings whose tags match are run too, after the explicit ones, by name"),
  defaults: z
    .object({
      priority: z.number().optional(),
      timeoutMs: z.number().optional(),
      options: jsonObject.optional(),
      variables: z.array(z.string()).optional().describe("Names only: values never leave"),
      retries: z
        .number()
        .optional()
        .describe("Test-level retries: a failed attempt runs again up to this many times (0-5)"),
    })
    .describe("Given to each run of a suite run unless the suite run overrides it"),
  maxParallel: z.number().nullable().describe("At most this many runs of a suite run queued or running at once"),
  failFast: z.boolean().describe("A failed or errored run cancels the suite run's runs that have not started"),
  createdAt: z.string(),
  updatedAt: z.string(),
  links: z.object({ self: z.string(), runs: z.string() }),
});

export const suiteRunSummaryResponse = z.object({
  id: z.string(),
  suiteId: z.string().nullable().describe("Null once the suite was deleted"),
  suiteName: z.string(),
  status: z
    .enum(["queued", "running", "passed", "flaky", "failed", "cancelled"])
    .describe(
      "From the children once all finished: failed if any failed or errored (quarantined ones aside), else cancelled if any was, else flaky if any passed after a failed attempt",
    ),
  total: z.number(),
  counts: z.object({
    queued: z.number(),
    running: z.number(),
    passed: z.number(),
    failed: z.number(),
    errored: z.number(),
    cancelled: z.number(),
    flaky: z.number().describe("Passed after a failed attempt (counted in passed too)"),
    quarantined: z
      .number()
      .describe("Failed or errored while their recording was quarantined (counted in failed or errored too)"),
  }),
  ci: ciResponse,
  maxParallel: z.number().nullable().describe("The suite's maxParallel when the suite run started"),
  failFast: z.boolean().describe("The suite's failFast when the suite run started"),
  failedFastAt: z.string().nullable().describe("When a failed run stopped the suite run (failFast)"),
  cancelledAt: z.string().nullable(),
  createdAt: z.string(),
  links: z.object({ self: z.string(), runs: z.string() }),
});

export const suiteRunResponse = suiteRunSummaryResponse.extend({
  runs: z.array(runResponse).describe("The child runs, in the suite's order"),
});

/** A 204 reply: no body. */
export function noContent(description: string) {
  return z.undefined().describe(description);
}

/** How many upcoming scheduled times a schedule shows. */
export const SCHEDULE_NEXT_COUNT = 5;

/** A schedule as the API shows it: never its `runDefaults` (the API's, copied when it was saved). */
export function scheduleView(schedule: Schedule, now: Date = new Date()) {
  return {
    id: schedule.id,
    name: schedule.name,
    recordingId: schedule.recordingId,
    suiteId: schedule.suiteId,
    cron: schedule.cron,
    timezone: schedule.timezone,
    everySeconds: schedule.everySeconds,
    startAt: schedule.startAt?.toISOString() ?? null,
    endAt: schedule.endAt?.toISOString() ?? null,
    jitterSeconds: schedule.jitterSeconds,
    overlap: schedule.overlap,
    catchUpWindowSeconds: schedule.catchUpWindowSeconds,
    runOverrides: schedule.runOverrides,
    pauseAfterFailures: schedule.pauseAfterFailures,
    paused: schedule.pausedAt !== null,
    pausedAt: schedule.pausedAt?.toISOString() ?? null,
    pauseReason: schedule.pauseReason,
    nextFireAt: schedule.nextFireAt?.toISOString() ?? null,
    // Shown while paused too: what it would do once resumed.
    next: upcomingFires(schedule, now, SCHEDULE_NEXT_COUNT).map((at) => at.toISOString()),
    createdAt: schedule.createdAt.toISOString(),
    updatedAt: schedule.updatedAt.toISOString(),
    links: { self: `/api/schedules/${schedule.id}`, fires: `/api/schedules/${schedule.id}/fires` },
  };
}

/** One entry of a schedule's fire log. */
export function scheduleFireView(fire: ScheduleFire) {
  return {
    scheduledAt: fire.scheduledAt.toISOString(),
    firedAt: fire.firedAt.toISOString(),
    outcome: fire.outcome,
    manual: fire.manual,
    runId: fire.runId,
    suiteRunId: fire.suiteRunId,
    reason: fire.reason,
  };
}

export const OVERLAP_POLICIES = ["skip", "buffer_one", "allow", "cancel_previous"] as const;
export const FIRE_OUTCOMES = ["started", "skipped_overlap", "skipped_paused", "buffered", "missed", "failed"] as const;

export const scheduleResponse = z.object({
  id: z.string(),
  name: z.string(),
  recordingId: z.string().nullable().describe("The recording it runs (else suiteId)"),
  suiteId: z.string().nullable().describe("The suite it runs (else recordingId)"),
  cron: z.string().nullable().describe("5-field cron expression read in `timezone` (else everySeconds)"),
  timezone: z.string().describe("IANA time zone of `cron`"),
  everySeconds: z.number().nullable().describe("Fixed interval, s (else cron)"),
  startAt: z.string().nullable(),
  endAt: z.string().nullable(),
  jitterSeconds: z.number(),
  overlap: z.enum(OVERLAP_POLICIES),
  catchUpWindowSeconds: z.number(),
  runOverrides: z.object({
    priority: z.number().optional(),
    timeoutMs: z.number().optional(),
    options: jsonObject.optional(),
    retries: z.number().optional(),
  }),
  pauseAfterFailures: z.number().nullable(),
  paused: z.boolean(),
  pausedAt: z.string().nullable(),
  pauseReason: z.string().nullable(),
  nextFireAt: z.string().nullable().describe("The next scheduled time not yet acted on; null once it has ended"),
  next: z.array(z.string()).describe("The next 5 scheduled times after now (UTC), shown while paused too"),
  createdAt: z.string(),
  updatedAt: z.string(),
  links: z.object({ self: z.string(), fires: z.string() }),
});

export const scheduleFireResponse = z.object({
  scheduledAt: z.string(),
  firedAt: z.string().describe("When it was acted on"),
  outcome: z.enum(FIRE_OUTCOMES),
  manual: z.boolean().describe("Started by POST /api/schedules/:id/trigger"),
  runId: z.string().nullable(),
  suiteRunId: z.string().nullable(),
  reason: z.string().nullable(),
});
