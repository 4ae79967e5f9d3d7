import type { ArtifactStore } from "@conveyor/artifacts";
import {
  dispositionFor,
  type EgressPolicy,
  type Logger,
  RunError,
  type RunOptionsInput,
  readJob,
  recordingSchema,
  retryDelayMs,
  toRunError,
  unsealRecording,
  unsealVariables,
  withProjectAllow,
} from "@conveyor/core";
import {
  type ActionResultRow,
  claimRunWithinLimit,
  type DbHandle,
  failUnfinishedRun,
  finishRun,
  getProjectAllowExpressions,
  getProjectEgressAllow,
  noSuiteEffects,
  type RunOutcome,
  recordActionResult,
  requeueRun,
  retryFailedAttempt,
  type SuiteEffects,
} from "@conveyor/db";
import { type BrowserPool, executeRecording, type RunResult } from "@conveyor/runner";
import { DelayedError, type Job, UnrecoverableError, WaitingError } from "bullmq";
import type { RunObserver } from "./stats.ts";

/** Why a run's AbortSignal fired. */
export type AbortReason = { type: "shutdown" } | { type: "cancel"; message: string };

export interface ProcessorDeps {
  db: DbHandle;
  pool: BrowserPool;
  artifacts: ArtifactStore;
  /** The operator's egress policy; each run gets its project's allowlist added (read at claim). */
  egressPolicy: EgressPolicy;
  logger: Logger;
  /** This worker's name, written into run events. */
  workerName: string;
  /** Controllers of the runs this process executes now, by run id (the shutdown aborts them). */
  active: Map<string, AbortController>;
  /** SECRETS_KEY, parsed: opens sealed sensitive values just before execution. */
  secretsKey: Buffer | undefined;
  /** Told how each attempt and action ended (heartbeat counters, metrics). Default: nobody. */
  observer?: RunObserver | undefined;
  /** PROJECT_MAX_CONCURRENT_RUNS: a project's runs executing at once when it sets no limit; 0: none. Default 0. */
  defaultMaxConcurrentRuns?: number;
  /**
   * After a suite run's child ended: adds the jobs of the held siblings it released (with
   * `backoffMs`, the ending job's retry backoff) and removes those of the siblings failFast
   * cancelled. A failure is the caller's to log: the reconciler delivers released runs anyway.
   * Default: nothing (the reconciler delivers them after RECONCILE_GRACE_MS).
   */
  applySuiteEffects?: ((effects: SuiteEffects, backoffMs: number) => Promise<void>) | undefined;
}

/** Hands a child's {@link SuiteEffects} to `deps.applySuiteEffects`, when there are any; never throws. */
export async function applySuiteEffects(
  deps: Pick<ProcessorDeps, "applySuiteEffects" | "logger">,
  effects: SuiteEffects,
  backoffMs: number,
): Promise<void> {
  if (!deps.applySuiteEffects || (effects.release.length === 0 && effects.withdraw.length === 0)) return;
  try {
    await deps.applySuiteEffects(effects, backoffMs);
  } catch (error) {
    deps.logger.warn(
      { err: error, released: effects.release.map((r) => r.id), withdrawn: effects.withdraw },
      "could not enqueue the suite run's released runs (the reconciler will) or remove its cancelled ones' jobs",
    );
  }
}

/**
 * How long a run whose project is at its concurrency limit waits before it is offered again, ms:
 * doubling from 1 s with each consecutive wait up to 10 s, with jitter (50–100 %), so that a
 * capped project's backlog is looked at every few seconds rather than in a loop, while other
 * projects' runs take the free slots; a freed slot is found again within about 10 s.
 */
export function capacityWaitMs(waits: number, random: () => number = Math.random): number {
  const ceiling = Math.min(10_000, 1000 * 2 ** Math.min(waits, 4));
  return Math.round(ceiling * (0.5 + random() / 2));
}

export interface ProcessResult {
  runId: string;
  status: string;
  attempt?: number;
}

function isAbortReason(value: unknown): value is AbortReason {
  return typeof value === "object" && value !== null && "type" in value;
}

/** The base of a run job's retry backoff (the API's RETRY_BACKOFF_MS, carried by the job), ms. */
export function backoffBaseMs(job: { opts: { backoff?: unknown } } | undefined): number {
  const backoff = job?.opts.backoff;
  return typeof backoff === "object" && backoff !== null && "delay" in backoff && typeof backoff.delay === "number"
    ? backoff.delay
    : 1000;
}

/**
 * The runs-queue processor. Postgres is the source of truth; the job only says which run.
 * Claims the run (fencing token = attempt), executes it in a fresh browser context, streams each
 * action's result, and writes exactly one terminal state — or hands the run back to the queue.
 */
export function createRunProcessor(deps: ProcessorDeps) {
  return async function processRun(job: Job, token?: string, signal?: AbortSignal): Promise<ProcessResult> {
    // The job catalog's schema, the one the API and the reconciler enqueued with.
    const parsed = readJob("run", job);
    if (!parsed.ok) throw new UnrecoverableError(parsed.message);
    const payload = parsed.payload;
    const { runId, projectId } = payload;
    const { db } = deps.db;
    const run = await claimRunWithinLimit(db, projectId, runId, deps.workerName, deps.defaultMaxConcurrentRuns ?? 0);
    if (run === "at_capacity") {
      // Its project already runs as many as it may: back to the queue for a while, without using an
      // attempt (moveToDelayed), and this slot takes the next job, likely another project's.
      const waits = payload.capacityWaits ?? 0;
      const delayMs = capacityWaitMs(waits);
      await job.updateData({ ...payload, capacityWaits: waits + 1 });
      await job.moveToDelayed(Date.now() + delayMs, token);
      deps.logger.debug(
        { runId, jobId: job.id, projectId, waits: waits + 1, delayMs },
        "project at its concurrency limit: run handed back",
      );
      deps.observer?.capacityWait?.();
      throw new DelayedError();
    }
    if (!run) {
      deps.logger.info(
        { runId, jobId: job.id, status: "skipped" },
        "run no longer needs executing (cancelled, finished or deleted); skipped",
      );
      return { runId, status: "skipped" };
    }
    const attempt = run.attempt;
    const log = deps.logger.child({ runId, jobId: job.id, attempt });
    log.info("run started");

    if (run.cancelRequestedAt) {
      // Cancelled while a previous attempt ran, and that attempt's worker is gone.
      return await finishRunNow(
        deps,
        { projectId, runId, jobId: job.id, attempt, backoffMs: backoffBaseMs(job) },
        {
          status: "cancelled",
          durationMs: 0,
          counts: { passed: 0, failed: 0, skipped: 0 },
          error: { kind: "cancelled", message: "Cancelled by request" },
        },
      );
    }

    const controller = new AbortController();
    const onQueueCancel = () => controller.abort({ type: "cancel", message: String(signal?.reason ?? "cancelled") });
    signal?.addEventListener("abort", onQueueCancel, { once: true });
    deps.active.set(runId, controller);

    const started = performance.now();
    // Actions whose result was stored: what the log reports when the run ends early.
    let actionsRecorded = 0;
    // Action results are written in order, one after the other, while the browser goes on with
    // the next action: the run does not wait for Postgres between actions. Every ending of the
    // attempt (terminal state, hand-back, retry) first waits for these writes, so a run is never
    // reported finished before its action rows are there; a failed write fails the attempt as an
    // awaited one did (it is an infrastructure error, retried).
    let actionWrites: Promise<void> = Promise.resolve();
    let actionWriteError: unknown = null;
    const writeActionResult = (row: ActionResultRow) => {
      actionWrites = actionWrites.then(async () => {
        if (actionWriteError !== null) return;
        try {
          await recordActionResult(db, projectId, runId, attempt, row);
          actionsRecorded += 1;
        } catch (error) {
          actionWriteError = error;
        }
      });
    };
    const actionWritesDone = async () => {
      await actionWrites;
      if (actionWriteError !== null) throw actionWriteError;
    };
    const finish = async (outcome: RunOutcome, actionsExecuted: number): Promise<ProcessResult> => {
      if (outcome.status === "failed" && run.testFailures < run.retries) {
        // A test failure with test-level retries left: the attempt ends (its evidence kept under
        // its number), the run does not. Back to the queue as the same job, at once: the queue's
        // own attempts (MAX_RETRIES, for infrastructure errors) are not used up by it.
        if (await retryFailedAttempt(db, projectId, runId, attempt, outcome, deps.workerName)) {
          await job.moveToWait(token);
          log.warn(
            {
              status: "queued",
              testFailures: run.testFailures + 1,
              retries: run.retries,
              failedActionIndex: outcome.error?.actionIndex,
              actionsExecuted,
              durationMs: Math.round(outcome.durationMs),
            },
            "run failed; test-level retry scheduled",
          );
          deps.observer?.attemptEnded({
            status: "retried",
            kind: outcome.error?.kind,
            message: outcome.error?.message,
            durationMs: outcome.durationMs,
          });
          throw new WaitingError();
        }
      }
      return finishRunNow(
        deps,
        { projectId, runId, jobId: job.id, attempt, backoffMs: backoffBaseMs(job) },
        outcome,
        actionsExecuted,
      );
    };

    let result: RunResult | undefined;
    try {
      const recording = recordingSchema.safeParse(run.recording);
      if (!recording.success) {
        throw new RunError(
          "permanent",
          `stored recording is invalid: ${recording.error.issues[0]?.message ?? "unknown"}`,
        );
      }
      let opened: { recording: typeof recording.data; variables: Record<string, string> };
      try {
        opened = {
          recording: unsealRecording(recording.data, deps.secretsKey),
          variables: unsealVariables(run.variables, deps.secretsKey),
        };
      } catch (error) {
        throw new RunError("permanent", `sensitive values cannot be opened: ${(error as Error).message}`);
      }
      // Read per run, so an allowlist changed with PATCH /api/projects/:id applies to the next run.
      const egressPolicy = withProjectAllow(deps.egressPolicy, await getProjectEgressAllow(db, projectId));
      // The recording's own JavaScript (waitForExpression) runs only for a project that allows it
      // (PATCH /api/projects/:id allowExpressions), read per run like the allowlist: otherwise
      // such an action ends the run errored, `expressions_disabled`. The API refuses such
      // recordings too; this also covers suites, schedules and a setting switched off since.
      const allowExpressions = await getProjectAllowExpressions(db, projectId);
      result = await executeRecording(deps.pool, {
        egressPolicy,
        allowExpressions,
        recording: opened.recording,
        variables: opened.variables,
        // As stored: the runner parses them with their defaults, and options it refuses end the run
        // `errored` (permanent) rather than failing the attempt as if infrastructure broke.
        options: run.options as RunOptionsInput,
        actionTimeoutMs: run.actionTimeoutMs,
        runTimeoutMs: run.timeoutMs,
        signal: controller.signal,
        artifacts: deps.artifacts,
        artifactPrefix: `${runId}/${attempt}`,
        onActionResult: (action) => {
          deps.observer?.actionEnded({ type: action.type, status: action.status, durationMs: action.durationMs });
          writeActionResult({
            index: action.index,
            actionId: action.actionId,
            type: action.type,
            status: action.status,
            startedAt: action.startedAt,
            durationMs: action.durationMs,
            selectorUsed: action.selectorUsed ?? null,
            selectorsTried: action.selectorsTried ?? null,
            pageUrl: action.pageUrl ?? null,
            errorKind: action.error?.kind ?? null,
            errorCode: action.error?.code ?? null,
            errorMessage: action.error?.message ?? null,
            screenshotKey: action.screenshotKey ?? null,
            blockedRequests: action.blockedRequests ?? null,
          });
        },
      });
      await actionWritesDone();

      if (result.outcome === "aborted") {
        const reason = isAbortReason(result.abortReason) ? result.abortReason : { type: "shutdown" as const };
        if (reason.type === "cancel") {
          return await finish(
            {
              status: "cancelled",
              durationMs: result.durationMs,
              counts: result.counts,
              artifacts: result.artifacts,
              error: { kind: "cancelled", message: reason.message },
            },
            result.actions.length,
          );
        }
        // Shutdown: not the run's fault. Back to the queue for another worker, not counted as a retry.
        await requeueRun(
          db,
          projectId,
          runId,
          attempt,
          {
            type: "handed_back",
            worker: deps.workerName,
            data: { reason: "worker shutting down", actionsExecuted: result.actions.length },
          },
          {
            durationMs: result.durationMs,
            counts: result.counts,
            artifacts: result.artifacts,
            error: { kind: "transient", message: "handed back to the queue: its worker was shutting down" },
          },
        );
        await job.moveToWait(token);
        log.info(
          {
            status: "queued",
            actionsExecuted: result.actions.length,
            durationMs: Math.round(performance.now() - started),
          },
          "run handed back to the queue (shutdown)",
        );
        throw new WaitingError();
      }

      const status = result.outcome;
      return await finish(
        {
          status,
          durationMs: result.durationMs,
          counts: result.counts,
          artifacts: result.artifacts,
          error: result.error
            ? {
                kind: result.error.kind,
                ...(result.error.code === undefined ? {} : { code: result.error.code }),
                message: result.error.message,
                actionIndex: result.error.actionIndex,
              }
            : undefined,
        },
        result.actions.length,
      );
    } catch (thrown) {
      if (thrown instanceof WaitingError || thrown instanceof UnrecoverableError || thrown instanceof DelayedError)
        throw thrown;
      // Let the writes already sent land (or fail) before this attempt ends one way or another.
      await actionWrites;
      // The one place an error is classified; what is written and what the queue does follow from it.
      const error = toRunError(thrown);
      const { kind, message } = error;
      const disposition = dispositionFor(kind);
      const durationMs = performance.now() - started;
      const counts = result?.counts ?? { passed: 0, failed: 0, skipped: 0 };
      if (disposition.action === "finish") {
        return await finish(
          {
            status: disposition.status,
            durationMs,
            counts,
            error: { kind, ...(error.code === undefined ? {} : { code: error.code }), message },
          },
          actionsRecorded,
        );
      }
      const attempts = job.opts.attempts ?? 1;
      if (job.attemptsMade + 1 >= attempts) {
        const effects = noSuiteEffects();
        const written = await failUnfinishedRun(
          db,
          projectId,
          runId,
          { kind, message: `gave up after ${attempts} attempt(s): ${message}` },
          deps.workerName,
          // Fenced: a newer attempt (this one's lock lost meanwhile) owns the run's ending.
          { deadLetter: true, attempt, effects },
        );
        await applySuiteEffects(deps, effects, backoffBaseMs(job));
        if (!written) {
          log.warn(
            { err: thrown, status: "errored" },
            "a newer attempt owns this run; this attempt's result was discarded",
          );
          return { runId, status: "discarded", attempt };
        }
        log.error(
          {
            err: thrown,
            status: "errored",
            actionsExecuted: actionsRecorded,
            durationMs: Math.round(durationMs),
          },
          "run errored: retries exhausted",
        );
        deps.observer?.attemptEnded({ status: "errored", kind, message, durationMs });
        return { runId, status: "errored", attempt };
      }
      // Decided once: the event says this delay and the queue's backoff strategy returns it.
      const delayMs = retryDelayMs(job.attemptsMade + 1, kind, backoffBaseMs(job));
      await requeueRun(
        db,
        projectId,
        runId,
        attempt,
        {
          type: "retry_scheduled",
          worker: deps.workerName,
          data: { kind, reason: message, delay: disposition.delay, delayMs },
        },
        {
          durationMs,
          counts,
          ...(result?.artifacts ? { artifacts: result.artifacts } : {}),
          error: { kind, ...(error.code === undefined ? {} : { code: error.code }), message },
        },
      );
      log.warn(
        {
          err: thrown,
          kind,
          delayMs,
          status: "queued",
          actionsExecuted: actionsRecorded,
          durationMs: Math.round(durationMs),
        },
        "run hit an infrastructure error; retry scheduled",
      );
      deps.observer?.attemptEnded({ status: "retried", kind, message, durationMs });
      throw new RunError(kind, message, {
        cause: error.cause ?? thrown,
        ...(error.code === undefined ? {} : { code: error.code }),
        retryDelayMs: delayMs,
      });
    } finally {
      signal?.removeEventListener("abort", onQueueCancel);
      deps.active.delete(runId);
    }
  };
}

/**
 * Writes a run's terminal state, fenced by attempt like every other ending: when a newer attempt
 * has claimed the run meanwhile, the write is a no-op, and this attempt then neither reports the
 * run finished nor counts it (status `discarded`).
 */
async function finishRunNow(
  deps: ProcessorDeps,
  ids: { projectId: string; runId: string; jobId: string | undefined; attempt: number; backoffMs: number },
  outcome: RunOutcome,
  actionsExecuted = 0,
): Promise<ProcessResult> {
  const effects = noSuiteEffects();
  const written = await finishRun(deps.db.db, ids.projectId, ids.runId, ids.attempt, outcome, deps.workerName, effects);
  await applySuiteEffects(deps, effects, ids.backoffMs);
  const fields = {
    runId: ids.runId,
    jobId: ids.jobId,
    attempt: ids.attempt,
    status: outcome.status,
    actionsExecuted,
    durationMs: Math.round(outcome.durationMs),
  };
  if (!written) {
    deps.logger.warn(fields, "a newer attempt owns this run; this attempt's result was discarded");
    return { runId: ids.runId, status: "discarded", attempt: ids.attempt };
  }
  deps.logger.info(fields, "run finished");
  deps.observer?.attemptEnded({
    status: outcome.status,
    kind: outcome.error?.kind,
    message: outcome.error?.message,
    durationMs: outcome.durationMs,
  });
  return { runId: ids.runId, status: outcome.status, attempt: ids.attempt };
}
