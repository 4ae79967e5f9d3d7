import type {
  ActionStatus,
  ApiScope,
  ErrorKind,
  RecordingInput,
  RunErrorCode,
  RunEventType,
  RunOptionsInput,
  RunStatus,
} from "@conveyor/core";
import { sql } from "drizzle-orm";
import {
  bigserial,
  boolean,
  index,
  integer,
  json,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} from "drizzle-orm/pg-core";

/** A project's own admission limits; absent fields take the API's defaults. */
export interface ProjectLimitsRow {
  maxQueuedRuns?: number;
  maxConcurrentRuns?: number;
  maxPriority?: number;
  maxRecordingBytes?: number;
}

/** Which recordings a suite takes by tag: all of `all`, at least one of `any`, none of `none`. */
export interface TagQueryRow {
  all?: string[];
  any?: string[];
  none?: string[];
}

/** Where a run or suite run came from in CI (all optional, free text). */
export interface CiMetadataRow {
  commit?: string;
  branch?: string;
  buildId?: string;
  url?: string;
}

/** What a suite gives each of its runs unless the suite run overrides it. */
export interface SuiteDefaultsRow {
  priority?: number;
  timeoutMs?: number;
  options?: RunOptionsInput;
  /** Values for `${NAME}` placeholders; each value sealed (`enc:v1:…`) when SECRETS_KEY is set. Never returned. */
  variables?: Record<string, string>;
  /**
   * Test-level retries (0–5): a failed attempt (a test failure, not an infrastructure error, which
   * keeps MAX_RETRIES) runs again this many times at most. A suite saved before this meaning may
   * hold up to 10: read as 5.
   */
  retries?: number;
}

/** What a schedule overrides in the runs it starts (else the suite's defaults, else the API's). */
export interface ScheduleRunOverridesRow {
  priority?: number;
  timeoutMs?: number;
  options?: RunOptionsInput;
  /** Test-level retries (0–5), over the suite's `defaults.retries`. */
  retries?: number;
}

/** The API's defaults for a run, as the schedule was saved with them. */
export interface ScheduleRunDefaultsRow {
  timeoutMs: number;
  actionTimeoutMs: number;
  maxAttempts: number;
}

/** What a schedule does when it fires while a run it started earlier has not finished. */
export type OverlapPolicy = "skip" | "buffer_one" | "allow" | "cancel_previous";

/** What became of one scheduled time. */
export type FireOutcome = "started" | "skipped_overlap" | "skipped_paused" | "buffered" | "missed" | "failed";

/** What an action result stores of the requests the egress policy blocked. */
export interface BlockedRequestsRow {
  count: number;
  first: { url: string; rule: string }[];
}

// Every timestamp is timestamptz: a run crosses hosts and time zones, local times would lie.
const timestamps = {
  createdAt: timestamp("created_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "date" })
    .notNull()
    .defaultNow()
    .$onUpdate(() => new Date()),
};

export const projects = pgTable("projects", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  /**
   * The project's own egress allowlist (EGRESS_ALLOW syntax), set with the admin token; it only
   * adds to the operator's policy, and only inside EGRESS_PROJECT_MAX (checked when set and again
   * by the worker's proxy on every request).
   */
  egressAllow: jsonb("egress_allow").$type<string[]>().notNull().default([]),
  /**
   * The project's own admission limits, set with the admin token; a limit left out takes the API's
   * default (PROJECT_MAX_* settings).
   */
  limits: jsonb("limits").$type<ProjectLimitsRow>().notNull().default({}),
  /**
   * Whether the project's recordings may run their own JavaScript in the page they test
   * (waitForExpression, from Chrome DevTools Recorder exports), set with the admin token. Off: the
   * API refuses recordings holding one, and the worker tells the runner not to evaluate them.
   */
  allowExpressions: boolean("allow_expressions").notNull().default(false),
  ...timestamps,
});

export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** SHA-256 of the key, hex. The key itself is shown once at creation and never stored. */
    keyHash: text("key_hash").notNull(),
    /** The first characters of the key, to tell keys apart in a list without revealing them. */
    keyPrefix: text("key_prefix").notNull(),
    /** What the key may do (core's API_SCOPES). Keys made before scopes existed have them all. */
    scopes: jsonb("scopes")
      .$type<ApiScope[]>()
      .notNull()
      .default(["runs:read", "runs:write", "recordings:read", "recordings:write", "keys:read", "keys:write"]),
    /** Written in batches (at most one write per key every few seconds), never per request. */
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "date" }),
    /** After this the key is refused (`key_expired`); null: never. Rotation sets it to the end of the grace period. */
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }),
    revokedAt: timestamp("revoked_at", { withTimezone: true, mode: "date" }),
    /** The key that replaced this one (POST /api/keys/:id/rotate). */
    replacedBy: text("replaced_by"),
    ...timestamps,
  },
  (t) => [
    // Every authenticated request looks its key up by hash.
    uniqueIndex("api_keys_key_hash_idx").on(t.keyHash),
    index("api_keys_project_idx").on(t.projectId),
  ],
);

export const recordings = pgTable(
  "recordings",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** The canonical recording (docs/recording-format.md). */
    recording: jsonb("recording").$type<RecordingInput>().notNull(),
    /** The format it was submitted in: "conveyor", "saveaction" or "chrome-recorder" (core's RECORDING_FORMATS). */
    sourceFormat: text("source_format").notNull().default("conveyor"),
    actionCount: integer("action_count").notNull(),
    /** Labels that suites select recordings by (`tagQuery`); lower case, unique, sorted. */
    tags: text("tags").array().notNull().default(sql`'{}'::text[]`),
    /**
     * Quarantine: until this time the recording still runs, but its failures neither fail its
     * suite runs nor alert. Null: not quarantined (an expired one is ignored, then cleared).
     */
    quarantinedUntil: timestamp("quarantined_until", { withTimezone: true, mode: "date" }),
    quarantineReason: text("quarantine_reason"),
    quarantinedAt: timestamp("quarantined_at", { withTimezone: true, mode: "date" }),
    ...timestamps,
  },
  (t) => [
    // Lists are per project, newest first, paginated by (created_at, id). NULLS FIRST matches
    // what `order by … desc` means, so the planner reads the index in order instead of sorting.
    index("recordings_project_created_idx").on(t.projectId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    // A suite's tagQuery: array containment and overlap (`@>`, `&&`).
    index("recordings_tags_idx").using("gin", t.tags),
  ],
);

/**
 * What an imported recording was uploaded as (a SaveAction or Chrome DevTools Recorder export),
 * kept beside its canonical form to be downloaded again (GET /api/recordings/:id/source). A table
 * of its own so that lists, and runs made from a recording, never read it. Values the canonical
 * form keeps sealed (sensitive inputs) are "[redacted]" here: the importer removed them.
 */
export const recordingSources = pgTable("recording_sources", {
  recordingId: text("recording_id")
    .primaryKey()
    .references(() => recordings.id, { onDelete: "cascade" }),
  projectId: text("project_id")
    .notNull()
    .references(() => projects.id, { onDelete: "cascade" }),
  /** The format it was in (never "conveyor": a canonical recording is its own original). */
  format: text("format").notNull(),
  /** `json`, not `jsonb`: kept as sent, its keys in their order. */
  body: json("body").notNull(),
  createdAt: timestamps.createdAt,
});

/**
 * A named group of recordings run together: explicit `recordingIds` (in that order) and/or every
 * recording whose tags match `tagQuery`, resolved when a suite run starts.
 */
export const suites = pgTable(
  "suites",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    recordingIds: text("recording_ids").array().notNull().default(sql`'{}'::text[]`),
    tagQuery: jsonb("tag_query").$type<TagQueryRow>(),
    defaults: jsonb("defaults").$type<SuiteDefaultsRow>().notNull().default({}),
    /** At most this many of a suite run's runs are queued or running at once; null: all at once. */
    maxParallel: integer("max_parallel"),
    /** A failed or errored run cancels the suite run's runs that have not started. */
    failFast: boolean("fail_fast").notNull().default(false),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("suites_project_name_idx").on(t.projectId, t.name),
    index("suites_project_created_idx").on(t.projectId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
  ],
);

/**
 * One execution of a suite: the membership as it was when it started (its child runs carry
 * `suite_run_id`); its status is derived from the children's.
 */
export const suiteRuns = pgTable(
  "suite_runs",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    /** Null once the suite is deleted; the suite run and its runs stay. */
    suiteId: text("suite_id").references(() => suites.id, { onDelete: "set null" }),
    suiteName: text("suite_name").notNull(),
    ci: jsonb("ci").$type<CiMetadataRow>(),
    /** The child runs, in the suite's order (explicit recordings first, then tag matches by name). */
    runIds: text("run_ids").array().notNull(),
    total: integer("total").notNull(),
    /** The suite's maxParallel when the suite run started (null: all runs released at once). */
    maxParallel: integer("max_parallel"),
    /** The suite's failFast when the suite run started. */
    failFast: boolean("fail_fast").notNull().default(false),
    /** Set when failFast cancelled the runs that had not started, after a run failed. */
    failedFastAt: timestamp("failed_fast_at", { withTimezone: true, mode: "date" }),
    /** Set when a user cancelled the suite run (its unfinished children are cancelled with it). */
    cancelledAt: timestamp("cancelled_at", { withTimezone: true, mode: "date" }),
    idempotencyKey: text("idempotency_key"),
    requestHash: text("request_hash"),
    ...timestamps,
  },
  (t) => [
    index("suite_runs_project_created_idx").on(t.projectId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    index("suite_runs_suite_idx").on(t.suiteId).where(sql`${t.suiteId} is not null`),
    uniqueIndex("suite_runs_project_idempotency_idx")
      .on(t.projectId, t.idempotencyKey)
      .where(sql`${t.idempotencyKey} is not null`),
  ],
);

/**
 * A recurring run of a recording or a suite. Postgres is the truth: `next_fire_at` is the next
 * scheduled time the workers' tick acts on, every fire is a row of `schedule_fires` (unique per
 * scheduled time), and BullMQ's job scheduler is only the clock that wakes the tick.
 */
export const schedules = pgTable(
  "schedules",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    recordingId: text("recording_id").references(() => recordings.id, { onDelete: "cascade" }),
    suiteId: text("suite_id").references(() => suites.id, { onDelete: "cascade" }),
    cron: text("cron"),
    timezone: text("timezone").notNull().default("UTC"),
    everySeconds: integer("every_seconds"),
    startAt: timestamp("start_at", { withTimezone: true, mode: "date" }),
    endAt: timestamp("end_at", { withTimezone: true, mode: "date" }),
    jitterSeconds: integer("jitter_seconds").notNull().default(0),
    overlap: text("overlap").$type<OverlapPolicy>().notNull().default("skip"),
    catchUpWindowSeconds: integer("catch_up_window_seconds").notNull().default(0),
    runOverrides: jsonb("run_overrides").$type<ScheduleRunOverridesRow>().notNull().default({}),
    /** The API's run defaults when the schedule was last saved (the workers that fire it do not have them). */
    runDefaults: jsonb("run_defaults").$type<ScheduleRunDefaultsRow>().notNull(),
    pauseAfterFailures: integer("pause_after_failures"),
    pausedAt: timestamp("paused_at", { withTimezone: true, mode: "date" }),
    pauseReason: text("pause_reason"),
    /** The next scheduled time not yet acted on; null once the schedule has ended. */
    nextFireAt: timestamp("next_fire_at", { withTimezone: true, mode: "date" }),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("schedules_project_name_idx").on(t.projectId, t.name),
    index("schedules_project_created_idx").on(t.projectId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    // The tick's query: schedules due now, across projects.
    index("schedules_next_fire_idx").on(t.nextFireAt).where(sql`${t.nextFireAt} is not null`),
  ],
);

/** The fire log: what became of each scheduled time of a schedule. */
export const scheduleFires = pgTable(
  "schedule_fires",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    scheduleId: text("schedule_id")
      .notNull()
      .references(() => schedules.id, { onDelete: "cascade" }),
    projectId: text("project_id").notNull(),
    scheduledAt: timestamp("scheduled_at", { withTimezone: true, mode: "date" }).notNull(),
    firedAt: timestamp("fired_at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    outcome: text("outcome").$type<FireOutcome>().notNull(),
    /** True for `POST /api/schedules/:id/trigger`. */
    manual: boolean("manual").notNull().default(false),
    runId: text("run_id"),
    suiteRunId: text("suite_run_id"),
    reason: text("reason"),
  },
  (t) => [
    // One row per scheduled time: duplicate clock jobs, replicas or retries cannot fire twice.
    uniqueIndex("schedule_fires_schedule_time_idx").on(t.scheduleId, t.scheduledAt),
    index("schedule_fires_schedule_id_idx").on(t.scheduleId, t.id.desc()),
  ],
);

export const runs = pgTable(
  "runs",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    /** The stored recording the run came from; null for inline recordings or once deleted. */
    recordingId: text("recording_id").references(() => recordings.id, { onDelete: "set null" }),
    status: text("status").$type<RunStatus>().notNull().default("queued"),
    /** 1 (most urgent) to 10. */
    priority: integer("priority").notNull(),
    /**
     * Executions started so far. Claiming a run increments it, and every write of an execution
     * is conditional on it: the fencing token that keeps a stale attempt from overwriting a newer one.
     */
    attempt: integer("attempt").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull(),
    /** Whole-run timeout, ms. */
    timeoutMs: integer("timeout_ms").notNull(),
    /** Per-action timeout, ms. */
    actionTimeoutMs: integer("action_timeout_ms").notNull(),
    /** Snapshot of the recording at submission, so later edits or deletes never change a run. */
    recording: jsonb("recording").$type<RecordingInput>().notNull(),
    /**
     * Values for `${NAME}` placeholders. Never returned by the API; values of variables the
     * recording declares sensitive are stored sealed (`enc:v1:…`, see core/secrets.ts).
     */
    variables: jsonb("variables").$type<Record<string, string>>().notNull().default({}),
    /** Replay options (timing, screenshots, video, trace): core/run-options.ts. */
    options: jsonb("options").$type<RunOptionsInput>().notNull().default({}),
    /** Set when the run ended `errored` because the queue gave up on it (retries or stall limit exhausted). */
    deadLetteredAt: timestamp("dead_lettered_at", { withTimezone: true, mode: "date" }),
    /** The run this one retries (POST /api/runs/:id/retry). */
    retryOf: text("retry_of"),
    /** Set when a user asked to cancel the run while it was running; the worker ends it `cancelled`. */
    cancelRequestedAt: timestamp("cancel_requested_at", { withTimezone: true, mode: "date" }),
    idempotencyKey: text("idempotency_key"),
    /** Hash of the request that created the run, to refuse a reused Idempotency-Key with another body. */
    requestHash: text("request_hash"),
    worker: text("worker"),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "date" }),
    durationMs: integer("duration_ms"),
    actionsTotal: integer("actions_total").notNull(),
    actionsPassed: integer("actions_passed").notNull().default(0),
    actionsFailed: integer("actions_failed").notNull().default(0),
    actionsSkipped: integer("actions_skipped").notNull().default(0),
    errorKind: text("error_kind").$type<ErrorKind>(),
    /** A finer code within the kind (core's RUN_ERROR_CODES), e.g. `blocked_by_policy`. */
    errorCode: text("error_code").$type<RunErrorCode>(),
    errorMessage: text("error_message"),
    /** Keys of run-level artifacts of the latest attempt (video, trace), served under /api/runs/:id/artifacts/. */
    artifacts: jsonb("artifacts").$type<{ video?: string; trace?: string }>().notNull().default({}),
    /** 0-based index of the action that failed the run. */
    failedActionIndex: integer("failed_action_index"),
    /** The suite run this run is a child of. */
    suiteRunId: text("suite_run_id").references(() => suiteRuns.id, { onDelete: "set null" }),
    /** CI metadata sent with the run (or its suite run). */
    ci: jsonb("ci").$type<CiMetadataRow>(),
    /** The schedule that started the run (or its suite run). */
    scheduleId: text("schedule_id").references(() => schedules.id, { onDelete: "set null" }),
    /**
     * A queued run of a suite run with maxParallel that waits for a slot: it has no job yet, and
     * the reconciler leaves it alone. Released (false, and enqueued) when a sibling finishes.
     */
    held: boolean("held").notNull().default(false),
    /** Test-level retries: a failed attempt (a test failure, not an infrastructure error) runs again up to this many times (0–5). */
    retries: integer("retries").notNull().default(0),
    /** Attempts of this run that ended as a test failure and were retried. */
    testFailures: integer("test_failures").notNull().default(0),
    /** Passed after at least one failed attempt. */
    flaky: boolean("flaky").notNull().default(false),
    /** The recording was quarantined when the run ended: its failure fails no suite run and alerts no one. */
    quarantined: boolean("quarantined").notNull().default(false),
    ...timestamps,
  },
  (t) => [
    // GET /api/runs: per project, newest first, keyset-paginated on (created_at, id).
    index("runs_project_created_idx").on(t.projectId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    // GET /api/runs?status=…: the same order within one status.
    index("runs_project_status_created_idx").on(
      t.projectId,
      t.status,
      t.createdAt.desc().nullsFirst(),
      t.id.desc().nullsFirst(),
    ),
    // The reconciler scans only unfinished runs, oldest first; finished runs (nearly all) stay out of the index.
    index("runs_unfinished_idx").on(t.createdAt).where(sql`${t.status} in ('queued', 'running')`),
    // GET /api/dead-letters: per project, newest first, among the few dead-lettered runs.
    index("runs_dead_letters_idx")
      .on(t.projectId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst())
      .where(sql`${t.deadLetteredAt} is not null`),
    // A retried POST with the same Idempotency-Key finds the run it created; unique so a race
    // between two retries still creates one run.
    uniqueIndex("runs_project_idempotency_idx")
      .on(t.projectId, t.idempotencyKey)
      .where(sql`${t.idempotencyKey} is not null`),
    // A suite run's children.
    index("runs_suite_run_idx").on(t.suiteRunId).where(sql`${t.suiteRunId} is not null`),
    // Run-history retention (RUN_RETENTION_DAYS): finished runs, oldest first.
    index("runs_finished_idx").on(t.finishedAt).where(sql`${t.finishedAt} is not null`),
    // GET /api/runs?recordingId=…: a recording's runs, newest first, keyset-paginated. Without it the
    // list walks the project's runs filtering by recording: a recording whose runs are all old (or
    // that has none) reads every run of the project.
    index("runs_recording_created_idx")
      .on(t.recordingId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst())
      .where(sql`${t.recordingId} is not null`),
    // GET /api/runs?flaky=true: flaky runs are few (a project may have none), so walking the
    // project's runs to find them reads them all; this index holds only the flaky ones.
    index("runs_project_flaky_created_idx")
      .on(t.projectId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst())
      .where(sql`${t.flaky}`),
    // A recording's recent runs: its stats rollup and "last failure".
    index("runs_recording_finished_idx")
      .on(t.recordingId, t.finishedAt.desc().nullsFirst())
      .where(sql`${t.recordingId} is not null and ${t.finishedAt} is not null`),
    // A suite run's runs still waiting for a slot (maxParallel), in the suite's order.
    index("runs_held_idx").on(t.suiteRunId, t.createdAt).where(sql`${t.held}`),
    // A schedule's runs, newest first (overlap and consecutive failures).
    index("runs_schedule_created_idx")
      .on(t.scheduleId, t.createdAt.desc().nullsFirst())
      .where(sql`${t.scheduleId} is not null`),
  ],
);

export const runActions = pgTable(
  "run_actions",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    attempt: integer("attempt").notNull(),
    /** 0-based position of the action in the recording. */
    index: integer("index").notNull(),
    projectId: text("project_id").notNull(),
    actionId: text("action_id").notNull(),
    type: text("type").notNull(),
    status: text("status").$type<ActionStatus>().notNull(),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }).notNull(),
    durationMs: integer("duration_ms").notNull(),
    selectorUsed: text("selector_used"),
    selectorsTried: jsonb("selectors_tried").$type<string[]>(),
    pageUrl: text("page_url"),
    errorKind: text("error_kind").$type<ErrorKind>(),
    errorCode: text("error_code").$type<RunErrorCode>(),
    errorMessage: text("error_message"),
    screenshotKey: text("screenshot_key"),
    /** Requests the egress policy blocked during the action: `{ count, first: [{ url, rule }] }`. */
    blockedRequests: jsonb("blocked_requests").$type<BlockedRequestsRow>(),
    createdAt: timestamps.createdAt,
  },
  // One row per (run, attempt, action): a redelivered write is a no-op, never a duplicate.
  (t) => [primaryKey({ columns: [t.runId, t.attempt, t.index] })],
);

export const runEvents = pgTable(
  "run_events",
  {
    /** Monotonic: the order of the log. */
    id: bigserial("id", { mode: "number" }).primaryKey(),
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    projectId: text("project_id").notNull(),
    type: text("type").$type<RunEventType>().notNull(),
    attempt: integer("attempt").notNull().default(0),
    worker: text("worker"),
    data: jsonb("data").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamps.createdAt,
  },
  // A run's events are read in log order.
  (t) => [index("run_events_run_idx").on(t.runId, t.id)],
);

/**
 * How many runs of each project are queued and running now, kept exact by triggers on `runs`
 * (every insert, status change and delete, whatever code made it; migration 0007). Admission reads
 * it under a row lock: `POST /api/runs` against maxQueuedRuns, a worker's claim against
 * maxConcurrentRuns, so two API replicas or two workers can never both take the last slot.
 */
export const projectRunCounts = pgTable("project_run_counts", {
  projectId: text("project_id")
    .primaryKey()
    .references(() => projects.id, { onDelete: "cascade" }),
  queued: integer("queued").notNull().default(0),
  running: integer("running").notNull().default(0),
});

export type Project = typeof projects.$inferSelect;
export type ApiKey = typeof apiKeys.$inferSelect;
export type RecordingRow = typeof recordings.$inferSelect;
export type NewRecordingRow = typeof recordings.$inferInsert;
export type RecordingSourceRow = typeof recordingSources.$inferSelect;
export type Run = typeof runs.$inferSelect;
export type Suite = typeof suites.$inferSelect;
export type SuiteRun = typeof suiteRuns.$inferSelect;
export type Schedule = typeof schedules.$inferSelect;
export type ScheduleFire = typeof scheduleFires.$inferSelect;
export type NewRun = typeof runs.$inferInsert;
export type RunAction = typeof runActions.$inferSelect;
export type NewRunAction = typeof runActions.$inferInsert;
export type RunEvent = typeof runEvents.$inferSelect;

/** A service task's definition as stored (the code is the source; every worker writes it at start). */
export interface ServiceTaskDefinitionRow {
  description: string;
  timeoutMs: number;
  maxRetries: number;
  priority: number;
  maxConsecutiveFailures: number;
  dependsOn: string[];
  blocks: string[];
}

/** How a service task is started: on its interval, only when triggered, or again as soon as it ends. */
export type ServiceTaskMode = "scheduled" | "triggered" | "continuous";

/**
 * The state of one of the service's own background tasks (worker/src/orchestrator.ts), shared by
 * every worker: the definitions live in code, what happened in this table. The lease
 * (`lease_holder`, `lease_expires_at`) says who runs it now; `lease_token` grows at every take, and
 * every write of a run is conditional on it, so a holder that lost its lease cannot write.
 */
export const serviceTasks = pgTable("service_tasks", {
  name: text("name").primaryKey(),
  mode: text("mode").$type<ServiceTaskMode>().notNull(),
  /** Time between runs (scheduled), or the pause before the next (continuous), ms. */
  intervalMs: integer("interval_ms").notNull(),
  /** The rest of the definition, as the workers registered it (shown by GET /api/admin/tasks). */
  definition: jsonb("definition").$type<ServiceTaskDefinitionRow>().notNull(),
  enabled: boolean("enabled").notNull().default(true),
  disabledReason: text("disabled_reason"),
  disabledAt: timestamp("disabled_at", { withTimezone: true, mode: "date" }),
  consecutiveFailures: integer("consecutive_failures").notNull().default(0),
  leaseHolder: text("lease_holder"),
  leaseToken: integer("lease_token").notNull().default(0),
  leaseExpiresAt: timestamp("lease_expires_at", { withTimezone: true, mode: "date" }),
  /** When the current run started (null when none runs). */
  runStartedAt: timestamp("run_started_at", { withTimezone: true, mode: "date" }),
  /** A run asked for (admin API, or a trigger in code), taken by the next worker free to run it. */
  runRequestedAt: timestamp("run_requested_at", { withTimezone: true, mode: "date" }),
  runRequestedBy: text("run_requested_by"),
  /** When the next scheduled run is due; null: at once. */
  nextRunAt: timestamp("next_run_at", { withTimezone: true, mode: "date" }),
  lastRunAt: timestamp("last_run_at", { withTimezone: true, mode: "date" }),
  lastFinishedAt: timestamp("last_finished_at", { withTimezone: true, mode: "date" }),
  lastDurationMs: integer("last_duration_ms"),
  lastSuccessAt: timestamp("last_success_at", { withTimezone: true, mode: "date" }),
  lastError: text("last_error"),
  lastErrorAt: timestamp("last_error_at", { withTimezone: true, mode: "date" }),
  /** What the last successful run reported (e.g. `{ deleted: 120 }`). */
  lastResult: jsonb("last_result").$type<Record<string, unknown>>(),
  runs: integer("runs").notNull().default(0),
  failures: integer("failures").notNull().default(0),
  ...timestamps,
});
export type ServiceTask = typeof serviceTasks.$inferSelect;

/**
 * One execution of a run: what it ended with and where its evidence is. A run retried after a
 * test failure or an infrastructure error keeps every attempt here (its actions are in
 * run_actions under the same attempt number, its artifacts under `<attempt>/`).
 */
export const runAttempts = pgTable(
  "run_attempts",
  {
    runId: text("run_id")
      .notNull()
      .references(() => runs.id, { onDelete: "cascade" }),
    attempt: integer("attempt").notNull(),
    projectId: text("project_id").notNull(),
    /** passed, failed, errored, cancelled — or `retried` when a failure was retried. */
    status: text("status").notNull(),
    worker: text("worker"),
    startedAt: timestamp("started_at", { withTimezone: true, mode: "date" }),
    finishedAt: timestamp("finished_at", { withTimezone: true, mode: "date" }),
    durationMs: integer("duration_ms"),
    actionsPassed: integer("actions_passed").notNull().default(0),
    actionsFailed: integer("actions_failed").notNull().default(0),
    actionsSkipped: integer("actions_skipped").notNull().default(0),
    errorKind: text("error_kind").$type<ErrorKind>(),
    errorCode: text("error_code").$type<RunErrorCode>(),
    errorMessage: text("error_message"),
    failedActionIndex: integer("failed_action_index"),
    artifacts: jsonb("artifacts").$type<{ video?: string; trace?: string }>().notNull().default({}),
    createdAt: timestamps.createdAt,
  },
  (t) => [primaryKey({ columns: [t.runId, t.attempt] })],
);

/**
 * A recording's runs per UTC day, kept by the `stats-rollup` service task so that
 * `GET /api/recordings/:id/stats` reads a few rows instead of scanning runs.
 */
export const recordingStatsDaily = pgTable(
  "recording_stats_daily",
  {
    recordingId: text("recording_id")
      .notNull()
      .references(() => recordings.id, { onDelete: "cascade" }),
    projectId: text("project_id").notNull(),
    /** The UTC day the runs finished on, `YYYY-MM-DD`. */
    day: text("day").notNull(),
    runs: integer("runs").notNull().default(0),
    passed: integer("passed").notNull().default(0),
    failed: integer("failed").notNull().default(0),
    errored: integer("errored").notNull().default(0),
    cancelled: integer("cancelled").notNull().default(0),
    flaky: integer("flaky").notNull().default(0),
    /** Durations of the finished runs of the day, ms (percentiles are computed from them). */
    durationsMs: integer("durations_ms").array().notNull().default(sql`'{}'::integer[]`),
    lastFailureRunId: text("last_failure_run_id"),
    lastFailureAt: timestamp("last_failure_at", { withTimezone: true, mode: "date" }),
    updatedAt: timestamps.updatedAt,
  },
  (t) => [primaryKey({ columns: [t.recordingId, t.day] })],
);

/** Where an incremental rollup (a service task) has got to: the last row it folded in. */
export const rollupCursors = pgTable("rollup_cursors", {
  name: text("name").primaryKey(),
  cursorAt: timestamp("cursor_at", { withTimezone: true, mode: "date" }),
  cursorId: text("cursor_id"),
  updatedAt: timestamps.updatedAt,
});

export type ChannelType = "webhook" | "slack" | "email";

/**
 * Where notifications go. Its target (the webhook or Slack URL, the email addresses) and its
 * signing secret are stored sealed (`enc:v1:…`, core/secrets.ts); `target_hint` is what may be
 * shown (scheme and host, or the addresses' domains).
 */
export const channels = pgTable(
  "channels",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    type: text("type").$type<ChannelType>().notNull(),
    /** Sealed JSON: `{ url }` or `{ email: [...] }`. */
    targetSealed: text("target_sealed").notNull(),
    targetHint: text("target_hint").notNull(),
    /** Webhooks: the Standard Webhooks secret (`whsec_…`), sealed; shown once. */
    secretSealed: text("secret_sealed"),
    /** After a rotation, the previous secret signs alongside until `previous_secret_expires_at`. */
    previousSecretSealed: text("previous_secret_sealed"),
    previousSecretExpiresAt: timestamp("previous_secret_expires_at", { withTimezone: true, mode: "date" }),
    enabled: boolean("enabled").notNull().default(true),
    disabledReason: text("disabled_reason"),
    disabledAt: timestamp("disabled_at", { withTimezone: true, mode: "date" }),
    /** First failed delivery of the current streak of failures; null after a success. */
    failingSince: timestamp("failing_since", { withTimezone: true, mode: "date" }),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("channels_project_name_idx").on(t.projectId, t.name),
    index("channels_project_created_idx").on(t.projectId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
  ],
);

/** Which alert events exist. */
export type AlertEventType =
  | "run.failed"
  | "run.recovered"
  | "run.flaky"
  | "suite_run.finished"
  | "schedule.paused"
  | "run.dead_lettered"
  | "channel.disabled"
  | "test";

/**
 * The audit trail: every notification Conveyor decided to send, written in the same transaction
 * as the state change that caused it (the outbox), with one delivery per channel.
 */
export const notifications = pgTable(
  "notifications",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    type: text("type").$type<AlertEventType>().notNull(),
    ruleId: text("rule_id"),
    runId: text("run_id"),
    suiteRunId: text("suite_run_id"),
    scheduleId: text("schedule_id"),
    recordingId: text("recording_id"),
    /** The event as delivered (the webhook body's `data`). */
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    createdAt: timestamps.createdAt,
  },
  (t) => [
    index("notifications_project_created_idx").on(
      t.projectId,
      t.createdAt.desc().nullsFirst(),
      t.id.desc().nullsFirst(),
    ),
  ],
);

export type DeliveryStatus = "pending" | "delivered" | "failed" | "cancelled";

/**
 * One notification to one channel. Its id is the `webhook-id` a receiver deduplicates on. Pending
 * deliveries are due at `next_attempt_at`; the delivery queue's jobs only wake the sender (a lost
 * job is found again by the outbox sweep).
 */
export const deliveries = pgTable(
  "deliveries",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    notificationId: text("notification_id")
      .notNull()
      .references(() => notifications.id, { onDelete: "cascade" }),
    channelId: text("channel_id")
      .notNull()
      .references(() => channels.id, { onDelete: "cascade" }),
    status: text("status").$type<DeliveryStatus>().notNull().default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true, mode: "date" }),
    lastAttemptAt: timestamp("last_attempt_at", { withTimezone: true, mode: "date" }),
    responseStatus: integer("response_status"),
    /** The first 1 KB of the last response's body. */
    responseBody: text("response_body"),
    lastError: text("last_error"),
    deliveredAt: timestamp("delivered_at", { withTimezone: true, mode: "date" }),
    ...timestamps,
  },
  (t) => [
    index("deliveries_channel_created_idx").on(t.channelId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
    // The outbox sweep: pending deliveries by due time.
    index("deliveries_pending_idx").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
  ],
);

/** Every attempt of a delivery: "see every failed try, not just the last". */
export const deliveryAttempts = pgTable(
  "delivery_attempts",
  {
    deliveryId: text("delivery_id")
      .notNull()
      .references(() => deliveries.id, { onDelete: "cascade" }),
    attempt: integer("attempt").notNull(),
    projectId: text("project_id").notNull(),
    at: timestamp("at", { withTimezone: true, mode: "date" }).notNull().defaultNow(),
    durationMs: integer("duration_ms"),
    responseStatus: integer("response_status"),
    responseBody: text("response_body"),
    error: text("error"),
  },
  (t) => [primaryKey({ columns: [t.deliveryId, t.attempt] })],
);

export type AlertScopeType = "project" | "recording" | "suite" | "schedule" | "tag";

/** Who is told what: events of a scope, a condition, channels. */
export const alertRules = pgTable(
  "alert_rules",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    scopeType: text("scope_type").$type<AlertScopeType>().notNull().default("project"),
    /** The recording, suite or schedule id, or the tag; null for the project. */
    scopeValue: text("scope_value"),
    events: text("events").array().$type<AlertEventType[]>().notNull(),
    afterConsecutiveFailures: integer("after_consecutive_failures").notNull().default(1),
    /** While still failing, alert again every this many hours; null: never. */
    remindEveryHours: integer("remind_every_hours"),
    channelIds: text("channel_ids").array().notNull(),
    enabled: boolean("enabled").notNull().default(true),
    ...timestamps,
  },
  (t) => [
    uniqueIndex("alert_rules_project_name_idx").on(t.projectId, t.name),
    index("alert_rules_project_created_idx").on(t.projectId, t.createdAt.desc().nullsFirst(), t.id.desc().nullsFirst()),
  ],
);

/**
 * What a rule knows about one subject (a recording, a schedule, a suite): failing or not, how
 * many failures in a row, when it alerted. Alerts are sent on changes of this state only.
 */
export const alertStates = pgTable(
  "alert_states",
  {
    ruleId: text("rule_id")
      .notNull()
      .references(() => alertRules.id, { onDelete: "cascade" }),
    /** `recording:<id>`, `schedule:<id>`, `suite:<id>`. */
    subject: text("subject").notNull(),
    projectId: text("project_id").notNull(),
    failing: boolean("failing").notNull().default(false),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    alertedAt: timestamp("alerted_at", { withTimezone: true, mode: "date" }),
    lastReminderAt: timestamp("last_reminder_at", { withTimezone: true, mode: "date" }),
    lastRunId: text("last_run_id"),
    updatedAt: timestamps.updatedAt,
  },
  (t) => [primaryKey({ columns: [t.ruleId, t.subject] })],
);

/** A period when alerts of a scope are silenced, and/or its schedules paused. */
export const maintenanceWindows = pgTable(
  "maintenance_windows",
  {
    id: text("id").primaryKey(),
    projectId: text("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    scopeType: text("scope_type").$type<AlertScopeType>().notNull().default("project"),
    scopeValue: text("scope_value"),
    startsAt: timestamp("starts_at", { withTimezone: true, mode: "date" }).notNull(),
    endsAt: timestamp("ends_at", { withTimezone: true, mode: "date" }).notNull(),
    /** `silence`: no alerts; `pause`: no alerts and its schedules' times are skipped. */
    mode: text("mode").$type<"silence" | "pause">().notNull(),
    reason: text("reason"),
    ...timestamps,
  },
  (t) => [index("maintenance_windows_project_ends_idx").on(t.projectId, t.endsAt)],
);

export type RunAttempt = typeof runAttempts.$inferSelect;
export type RecordingStatsDay = typeof recordingStatsDaily.$inferSelect;
export type Channel = typeof channels.$inferSelect;
export type Notification = typeof notifications.$inferSelect;
export type Delivery = typeof deliveries.$inferSelect;
export type DeliveryAttempt = typeof deliveryAttempts.$inferSelect;
export type AlertRule = typeof alertRules.$inferSelect;
export type AlertState = typeof alertStates.$inferSelect;
export type MaintenanceWindow = typeof maintenanceWindows.$inferSelect;
