import {
  type ActionType,
  actionKey,
  type ErrorKind,
  type Recording,
  RunError,
  recordingSchema,
  type Selector,
} from "@conveyor/core";
import type { BrowserContext, Page } from "playwright-core";
import { ACTION_EXECUTORS } from "./actions/index.ts";
import { gotoUrl } from "./actions/navigate.ts";
import type { ActionContext, ActionExecutor } from "./actions/types.ts";
import type { ArtifactStore } from "./artifacts.ts";
import { classifyError, cleanMessage } from "./classify.ts";
import type { BrowserPool, RunnerLogger } from "./pool.ts";
import { type ResolvedSelector, resolveSelector } from "./selectors.ts";
import { applyVariables } from "./variables.ts";

export interface ExecuteOptions {
  /** What to replay. Validated again here; an invalid one ends the run `errored`. */
  recording: Recording;
  /** Values for `${NAME}` placeholders. Default: none (any placeholder then errors the run). */
  variables?: Record<string, string>;
  /**
   * Per-action timeout in milliseconds, unless the action sets its own `timeoutMs`; also bounds
   * opening `startUrl`. Required.
   */
  actionTimeoutMs: number;
  /** The whole run's budget in milliseconds; exceeding it fails the run. Default: no limit. */
  runTimeoutMs?: number;
  /** Stops the run at once, mid-action; the result is then `aborted`. Default: none. */
  signal?: AbortSignal;
  /** Where screenshots go. */
  artifacts: ArtifactStore;
  /** Prefix of every artifact key of this run, without a trailing slash, e.g. `run_x/1`. */
  artifactPrefix: string;
  /** Also store a screenshot after every passed action. Default: false (only on failure). */
  screenshotEveryAction?: boolean;
  /** Called, and awaited, after each action with its result. Default: none. */
  onActionResult?: (result: ActionResult) => Promise<void> | void;
  /** Told about problems that don't change the outcome (a screenshot that failed). Default: silent. */
  logger?: RunnerLogger;
}

export interface ActionResult {
  /** 0-based position in the recording. */
  index: number;
  /** The action's id, or `a<position>` (see `actionKey` in core). */
  actionId: string;
  type: ActionType;
  /** `skipped`: an optional action that failed. */
  status: "passed" | "failed" | "skipped";
  startedAt: Date;
  durationMs: number;
  /** The selector candidate that matched, e.g. `testid=login-button`. */
  selectorUsed?: string;
  /** Every candidate checked, in order. */
  selectorsTried?: string[];
  /** The page's URL after the action (sensitive values redacted). */
  pageUrl?: string;
  error?: { kind: ErrorKind; message: string };
  /** Artifact key of the screenshot taken after the action, if any. */
  screenshotKey?: string;
}

export type RunOutcome = "passed" | "failed" | "errored" | "aborted";

export interface RunResult {
  /**
   * passed: no required action failed; failed: the site did not behave (test_failure);
   * errored: the run can never succeed as submitted (permanent); aborted: `signal` fired.
   * Transient and recoverable problems are thrown as RunError instead, for the queue to retry.
   */
  outcome: RunOutcome;
  /** Results of the actions that ran, in order. Actions after a failure are not listed. */
  actions: ActionResult[];
  counts: { total: number; passed: number; failed: number; skipped: number };
  error?: { kind: ErrorKind; message: string; actionIndex?: number };
  durationMs: number;
  /** `signal.reason`, when aborted. */
  abortReason?: unknown;
}

/** How long a failure screenshot may take, in milliseconds. */
const SCREENSHOT_TIMEOUT_MS = 5_000;
/** How long the screenshot taken when the run times out may take, in milliseconds. */
const TIMEOUT_SCREENSHOT_TIMEOUT_MS = 2_000;
const REDACTED = "[redacted]";

type StopCause = { kind: "aborted"; reason: unknown } | { kind: "timeout"; timeoutMs: number };

/**
 * Replays `recording` in a fresh browser context from `pool`. Returns the outcome; throws a
 * retryable RunError (transient, recoverable) when the infrastructure, not the site, failed.
 */
export async function executeRecording(pool: BrowserPool, options: ExecuteOptions): Promise<RunResult> {
  const runStarted = performance.now();
  const total = options.recording.actions.length;
  const results: ActionResult[] = [];
  const finish = (outcome: RunOutcome, extra: Partial<RunResult> = {}): RunResult => ({
    outcome,
    actions: results,
    counts: countResults(total, results),
    durationMs: Math.round(performance.now() - runStarted),
    ...extra,
  });

  if (options.signal?.aborted) return finish("aborted", abortedFields(options.signal.reason));

  let recording: Recording;
  try {
    recording = prepareRecording(options.recording, options.variables ?? {});
  } catch (error) {
    if (error instanceof RunError && error.kind === "permanent") {
      return finish("errored", { error: { kind: error.kind, message: error.message } });
    }
    throw error;
  }
  const redact = redactorFor(recording);

  const control = new RunControl();
  let context: BrowserContext | null = null;
  let page: Page | null = null;
  control.onStop = async (cause) => {
    if (cause.kind === "timeout" && page !== null) {
      control.timeoutScreenshot = await page
        .screenshot({ type: "png", timeout: TIMEOUT_SCREENSHOT_TIMEOUT_MS })
        .catch(() => null);
    }
    await context?.close().catch(() => undefined);
  };
  const onAbort = () => control.stop({ kind: "aborted", reason: options.signal?.reason });
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const runTimer =
    options.runTimeoutMs === undefined
      ? undefined
      : setTimeout(() => control.stop({ kind: "timeout", timeoutMs: options.runTimeoutMs ?? 0 }), options.runTimeoutMs);

  const captureScreenshot = async (): Promise<Buffer | null> => {
    if (page === null) return null;
    try {
      return await page.screenshot({ type: "png", timeout: SCREENSHOT_TIMEOUT_MS });
    } catch (error) {
      options.logger?.warn({ err: error }, "could not take a screenshot");
      return null;
    }
  };
  const storeScreenshot = async (key: string, body: Buffer | null): Promise<string | undefined> => {
    if (body === null) return undefined;
    try {
      await options.artifacts.put(key, body, "image/png");
      return key;
    } catch (error) {
      options.logger?.warn({ err: error, key }, "could not store a screenshot");
      return undefined;
    }
  };
  const report = async (result: ActionResult) => {
    results.push(result);
    await options.onActionResult?.(result);
  };

  /** The result once `control` stopped the run; `current` is the action that was interrupted. */
  const stoppedResult = async (current?: {
    index: number;
    startedAt: Date;
    started: number;
    trace: SelectorTrace;
  }): Promise<RunResult> => {
    await control.settled();
    const cause = control.cause;
    if (cause === null || cause.kind === "aborted") {
      const fields = abortedFields(cause?.reason);
      if (current !== undefined && fields.error !== undefined) fields.error.actionIndex = current.index;
      return finish("aborted", fields);
    }
    const message = `Run exceeded its timeout of ${cause.timeoutMs} ms`;
    if (current === undefined) return finish("failed", { error: { kind: "test_failure", message } });
    const action = recording.actions[current.index];
    if (action !== undefined) {
      const screenshotKey = await storeScreenshot(
        failureKey(options.artifactPrefix, current.index),
        control.timeoutScreenshot,
      );
      await report({
        index: current.index,
        actionId: actionKey(action, current.index),
        type: action.type,
        status: "failed",
        startedAt: current.startedAt,
        durationMs: Math.round(performance.now() - current.started),
        ...current.trace,
        error: { kind: "test_failure", message },
        ...(screenshotKey === undefined ? {} : { screenshotKey }),
      });
    }
    return finish("failed", { error: { kind: "test_failure", message, actionIndex: current.index } });
  };

  try {
    const contextPromise = pool.newContext(recording.viewport === undefined ? {} : { viewport: recording.viewport });
    let opened: BrowserContext | null;
    try {
      opened = await Promise.race([contextPromise, control.stopped.then(() => null)]);
    } catch (error) {
      if (control.cause !== null) return await stoppedResult();
      throw new RunError("transient", `Could not open a browser context: ${cleanMessage(String(error))}`, {
        cause: error,
      });
    }
    if (opened === null || control.cause !== null) {
      void contextPromise.then((late) => late.close()).catch(() => undefined);
      return await stoppedResult();
    }
    context = opened;

    try {
      page = await context.newPage();
      if (recording.startUrl !== undefined) {
        await gotoUrl(page, recording.startUrl, "load", options.actionTimeoutMs);
      }
    } catch (error) {
      if (control.cause !== null) return await stoppedResult();
      const failure = classifyError(error, { navigating: true });
      const message = redact(`Opening ${recording.startUrl ?? "the page"} failed: ${failure.message}`);
      if (failure.retryable) throw new RunError(failure.kind, message, { cause: error });
      return finish(outcomeFor(failure.kind), { error: { kind: failure.kind, message } });
    }
    const activePage = page;

    for (const [index, action] of recording.actions.entries()) {
      if (control.cause !== null) return await stoppedResult();
      const timeoutMs = action.timeoutMs ?? options.actionTimeoutMs;
      const startedAt = new Date();
      const started = performance.now();
      const deadline = Date.now() + timeoutMs;
      const trace: SelectorTrace = {};
      const actionContext: ActionContext = {
        page: activePage,
        action,
        timeoutMs,
        deadline,
        remainingMs: () => Math.max(1, deadline - Date.now()),
        signal: control.signal,
        resolve: async (selector: Selector): Promise<ResolvedSelector> => {
          const resolved = await resolveSelector(activePage, selector, {
            timeoutMs,
            deadline,
            signal: control.signal,
            onTried: (tried) => {
              trace.selectorsTried = tried;
            },
          });
          trace.selectorUsed = resolved.selectorUsed;
          trace.selectorsTried = resolved.selectorsTried;
          return resolved;
        },
      };

      let failure: unknown = null;
      let passed = false;
      try {
        // Each entry of ACTION_EXECUTORS takes its own action type; `action.type` picks the match.
        await (ACTION_EXECUTORS[action.type] as ActionExecutor<ActionType>)(actionContext);
        passed = true;
      } catch (error) {
        failure = error;
      }
      if (control.cause !== null) return await stoppedResult({ index, startedAt, started, trace });

      const base = {
        index,
        actionId: actionKey(action, index),
        type: action.type,
        startedAt,
        durationMs: Math.round(performance.now() - started),
        ...trace,
        pageUrl: redact(activePage.url()),
      };
      if (passed) {
        const screenshotKey = options.screenshotEveryAction
          ? await storeScreenshot(`${options.artifactPrefix}/action-${index + 1}.png`, await captureScreenshot())
          : undefined;
        await report({ ...base, status: "passed", ...(screenshotKey === undefined ? {} : { screenshotKey }) });
        continue;
      }

      const classified = classifyError(failure, { navigating: action.type === "navigate" });
      const error = { kind: classified.kind, message: redact(cleanMessage(classified.message)) };
      if (classified.retryable) throw new RunError(error.kind, error.message, { cause: failure });
      if (action.optional) {
        await report({ ...base, status: "skipped", error });
        continue;
      }
      const screenshotKey = await storeScreenshot(failureKey(options.artifactPrefix, index), await captureScreenshot());
      await report({ ...base, status: "failed", error, ...(screenshotKey === undefined ? {} : { screenshotKey }) });
      return finish(outcomeFor(error.kind), { error: { ...error, actionIndex: index } });
    }
    // A required failure returned above, so getting here means every required action passed.
    return finish("passed");
  } finally {
    if (runTimer !== undefined) clearTimeout(runTimer);
    options.signal?.removeEventListener("abort", onAbort);
    await control.settled();
    await context?.close().catch(() => undefined);
  }
}

interface SelectorTrace {
  selectorUsed?: string;
  selectorsTried?: string[];
}

/**
 * Stops a run from outside the action loop (abort signal, run timeout): records why, wakes any
 * polling through `signal`, and runs `onStop` once (which closes the context, so the Playwright
 * call in flight rejects at once instead of running to its own timeout).
 */
class RunControl {
  readonly #halt = new AbortController();
  #cause: StopCause | null = null;
  #work: Promise<void> = Promise.resolve();
  onStop: (cause: StopCause) => Promise<void> = async () => undefined;
  timeoutScreenshot: Buffer | null = null;
  /** Resolves when the run is told to stop. */
  readonly stopped: Promise<void>;

  constructor() {
    this.stopped = new Promise((resolve) =>
      this.#halt.signal.addEventListener("abort", () => resolve(), { once: true }),
    );
  }

  get cause(): StopCause | null {
    return this.#cause;
  }

  get signal(): AbortSignal {
    return this.#halt.signal;
  }

  stop(cause: StopCause): void {
    if (this.#cause !== null) return;
    this.#cause = cause;
    this.#work = this.onStop(cause).catch(() => undefined);
    this.#halt.abort();
  }

  /** Resolves once the stop's own work (screenshot, closing the context) is done. */
  settled(): Promise<void> {
    return this.#work;
  }
}

function prepareRecording(recording: Recording, variables: Readonly<Record<string, string>>): Recording {
  const parsed = recordingSchema.safeParse(recording);
  if (!parsed.success) {
    const issues = parsed.error.issues
      .slice(0, 10)
      .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
      .join("; ");
    throw new RunError("permanent", `Invalid recording: ${issues}`);
  }
  return applyVariables(parsed.data, variables);
}

/** Replaces every sensitive input value in a text, so secrets never reach results or logs. */
function redactorFor(recording: Recording): (text: string) => string {
  const secrets = [
    ...new Set(
      recording.actions.flatMap((action) =>
        action.type === "input" && action.sensitive === true && action.value !== "" ? [action.value] : [],
      ),
    ),
  ].sort((a, b) => b.length - a.length);
  if (secrets.length === 0) return (text) => text;
  return (text) => secrets.reduce((redacted, secret) => redacted.split(secret).join(REDACTED), text);
}

function outcomeFor(kind: ErrorKind): RunOutcome {
  switch (kind) {
    case "test_failure":
      return "failed";
    case "cancelled":
      return "aborted";
    case "permanent":
    case "transient":
    case "recoverable":
      return "errored";
    default: {
      const unreachable: never = kind;
      throw new Error(`unknown error kind ${String(unreachable)}`);
    }
  }
}

function abortMessage(reason: unknown): string {
  if (reason instanceof Error) return `Run was aborted: ${reason.message}`;
  if (typeof reason === "string" && reason !== "") return `Run was aborted: ${reason}`;
  return "Run was aborted";
}

function abortedFields(reason: unknown): Partial<RunResult> {
  return { abortReason: reason, error: { kind: "cancelled", message: abortMessage(reason) } };
}

function failureKey(prefix: string, index: number): string {
  return `${prefix}/action-${index + 1}-failure.png`;
}

function countResults(total: number, results: readonly ActionResult[]): RunResult["counts"] {
  const counts = { total, passed: 0, failed: 0, skipped: 0 };
  for (const result of results) counts[result.status] += 1;
  return counts;
}
