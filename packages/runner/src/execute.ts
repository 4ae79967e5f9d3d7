import type { ArtifactStore } from "@conveyor/artifacts";
import {
  type ActionType,
  actionKey,
  type EgressPolicy,
  type ErrorKind,
  type Recording,
  RunError,
  type RunErrorCode,
  type RunOptionsInput,
  recordingSchema,
  runOptionsSchema,
  type Selector,
  UNRESTRICTED_EGRESS,
} from "@conveyor/core";
import type { BrowserContext, Dialog, Page } from "playwright-core";
import { ACTION_EXECUTORS } from "./actions/index.ts";
import { gotoUrl } from "./actions/navigate.ts";
import type { ActionContext, ActionExecutor, ResolveOptions } from "./actions/types.ts";
import { classifyError, cleanMessage, isBrowserGoneError } from "./classify.ts";
import { countResults, countsProblem, type RunCounts } from "./counts.ts";
import { type BlockedRequests, EgressWatch } from "./egress-watch.ts";
import { isFfmpegMissingError, type RunArtifacts, RunEvidence } from "./evidence.ts";
import { RunPages } from "./pages.ts";
import type { BrowserPool, NewContextOptions, OpenedPage, RunnerLogger } from "./pool.ts";
import { createRedactor } from "./redact.ts";
import { frameAtPath, frameScope, type ResolvedSelector, resolveSelector, type Scope } from "./selectors.ts";
import { sleep } from "./sleep.ts";
import { realtimeDelayMs } from "./timing.ts";
import { applyVariables, sensitiveVariableValues } from "./variables.ts";

export interface ExecuteOptions {
  /** What to replay. Validated again here; an invalid one ends the run `errored`. */
  recording: Recording;
  /**
   * Values for `${NAME}` placeholders; a name without one uses the default the recording
   * declares. Default: none (a placeholder with neither then errors the run).
   */
  variables?: Record<string, string>;
  /**
   * Per-action timeout in milliseconds, unless the action sets its own `timeoutMs`; also bounds
   * opening `startUrl`. Required.
   */
  actionTimeoutMs: number;
  /** The whole run's budget in milliseconds, recorded pauses included; exceeding it fails the run. Default: no limit. */
  runTimeoutMs?: number;
  /** Stops the run at once, mid-action; the result is then `aborted`. Default: none. */
  signal?: AbortSignal;
  /** Where screenshots, video and trace go. */
  artifacts: ArtifactStore;
  /** Prefix of every artifact key of this run, without a trailing slash, e.g. `run_x/1`. */
  artifactPrefix: string;
  /**
   * How to replay, as core's `runOptionsSchema` takes it (the run's stored `options`), parsed
   * here with its defaults; invalid options end the run `errored`. Fields: `timing` "fast"
   * (default) or "realtime" (wait each action's `delayBeforeMs`); `speed` realtime multiplier
   * (default 1); `maxDelayMs` longest realtime pause, ms (default 5000); `screenshots` "failure"
   * (default), "every" or "off"; `video` WebM of the run (default false); `trace` Playwright
   * trace zip (default false). Default: all defaults.
   */
  options?: RunOptionsInput;
  /**
   * Directory under which video and trace are recorded before they are stored (a private
   * subdirectory, removed when the run ends). Default: the OS temp directory.
   */
  tempDir?: string;
  /** Called, and awaited, after each action with its result. Default: none. */
  onActionResult?: (result: ActionResult) => Promise<void> | void;
  /** Told about problems that don't change the outcome (a screenshot that failed). Default: silent. */
  logger?: RunnerLogger;
  /**
   * What this run's browser may reach: the operator's policy plus the project's allowlist. Bound
   * to the context's egress session when the pool has a proxy (every request is then checked
   * where it connects); navigations are checked by scheme and address literal either way.
   * Default: the pool's proxy's policy, or, without a proxy, the scheme rule only.
   */
  egressPolicy?: EgressPolicy;
  /**
   * Whether the recording may run its own JavaScript in the page: a `waitForExpression` action
   * evaluates its expression only when this is true; otherwise it fails `permanent` with code
   * `expressions_disabled` (the run ends `errored` at that action, unless it is optional). A
   * project's choice, which the caller looks up. Default: false.
   */
  allowExpressions?: boolean;
}

/** An action's or a run's error: its kind, a finer code where there is one, and the message. */
export interface RunErrorInfo {
  kind: ErrorKind;
  /** E.g. `blocked_by_policy`. */
  code?: RunErrorCode;
  message: string;
}

export interface ActionResult {
  /** 0-based position in the recording. */
  index: number;
  /** The action's id, or `a<position>` (see `actionKey` in core). */
  actionId: string;
  type: ActionType;
  /** `skipped`: an optional action that failed. */
  status: "passed" | "failed" | "skipped";
  /** When the action itself started (after its realtime pause, if any). */
  startedAt: Date;
  /** How long the action took, in milliseconds (its realtime pause not included). */
  durationMs: number;
  /**
   * Recorded pauses honoured (realtime timing), ms: before the action (`delayBeforeMs / speed`,
   * capped at `maxDelayMs`) plus any recorded dwell inside it (a hover's `durationMs`). 0 with fast
   * timing. The dwell is part of `durationMs`; the pause before is not.
   */
  pausedMs: number;
  /** The selector candidate that matched, e.g. `testid=login-button`. */
  selectorUsed?: string;
  /** Every candidate checked, in order; an ambiguous one reads `id=x (3 matches, needs exactly 1)`. */
  selectorsTried?: string[];
  /** The URL of the action's page (its `target`) after the action (sensitive values redacted). */
  pageUrl?: string;
  error?: RunErrorInfo;
  /** Artifact key of the screenshot taken after the action, if any. */
  screenshotKey?: string;
  /** Requests the egress policy blocked while the action ran (they do not fail it by themselves). */
  blockedRequests?: BlockedRequests;
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
  /**
   * `total` is the recording's number of actions; passed + failed + skipped count the reported
   * results, so `total` minus their sum were never run. Always passed + failed + skipped ≤ total,
   * and a `passed` outcome has passed + skipped = total (see `countsProblem`).
   */
  counts: RunCounts;
  error?: RunErrorInfo & { actionIndex?: number };
  durationMs: number;
  /** `signal.reason`, when aborted. */
  abortReason?: unknown;
  /** Keys of the run-wide artifacts stored (video, trace), when asked for and recorded. */
  artifacts: RunArtifacts;
}

/** How long a failure screenshot may take, in milliseconds. */
const SCREENSHOT_TIMEOUT_MS = 5_000;
/** How long the screenshot taken when the run times out may take, in milliseconds. */
const TIMEOUT_SCREENSHOT_TIMEOUT_MS = 2_000;

type StopCause = { kind: "aborted"; reason: unknown } | { kind: "timeout"; timeoutMs: number };

/**
 * Replays `recording` in a fresh browser context from `pool`. Returns the outcome; throws a
 * retryable RunError (transient, recoverable) when the infrastructure, not the site, failed.
 */
export async function executeRecording(pool: BrowserPool, options: ExecuteOptions): Promise<RunResult> {
  const runStarted = performance.now();
  const total = options.recording.actions.length;
  const results: ActionResult[] = [];
  let redact = (text: string): string => text;
  const finish = (outcome: RunOutcome, extra: Partial<RunResult> = {}): RunResult => {
    const result: RunResult = {
      outcome,
      actions: results,
      counts: countResults(total, results),
      durationMs: Math.round(performance.now() - runStarted),
      artifacts: {},
      ...extra,
    };
    if (result.error !== undefined) result.error = { ...result.error, message: redact(result.error.message) };
    // Never report a pass the counts don't support: that would be a runner bug, and a silent one.
    const problem = countsProblem(result.counts, result.outcome);
    if (problem === null) return result;
    return {
      ...result,
      outcome: "errored",
      error: { kind: "permanent", message: `Internal runner error: ${problem}` },
    };
  };

  if (options.signal?.aborted) return finish("aborted", abortedFields(options.signal.reason));

  const parsedOptions = runOptionsSchema.safeParse(options.options ?? {});
  if (!parsedOptions.success) {
    const issues = parsedOptions.error.issues
      .slice(0, 10)
      .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
      .join("; ");
    return finish("errored", { error: { kind: "permanent", message: `Invalid run options: ${issues}` } });
  }
  const runOptions = parsedOptions.data;

  let recording: Recording;
  try {
    recording = prepareRecording(options.recording, options.variables ?? {});
  } catch (error) {
    if (error instanceof RunError && error.kind === "permanent") {
      return finish("errored", { error: { kind: error.kind, message: error.message } });
    }
    throw error;
  }
  const sensitiveValues = [
    ...sensitiveVariableValues(recording, options.variables ?? {}),
    ...recording.actions.flatMap((action) =>
      action.type === "input" && action.sensitive === true ? [action.value] : [],
    ),
  ];
  redact = createRedactor(sensitiveValues);
  const redactResult = (result: ActionResult): ActionResult => ({
    ...result,
    ...(result.selectorUsed === undefined ? {} : { selectorUsed: redact(result.selectorUsed) }),
    ...(result.selectorsTried === undefined ? {} : { selectorsTried: result.selectorsTried.map(redact) }),
    ...(result.pageUrl === undefined ? {} : { pageUrl: redact(result.pageUrl) }),
    ...(result.error === undefined ? {} : { error: { ...result.error, message: redact(result.error.message) } }),
    ...(result.blockedRequests === undefined
      ? {}
      : {
          blockedRequests: {
            count: result.blockedRequests.count,
            first: result.blockedRequests.first.map((item) => ({ ...item, url: redact(item.url) })),
          },
        }),
  });

  const evidence = await RunEvidence.create({ ...runOptions, sensitiveValues }, options.tempDir);
  const control = new RunControl();
  let context: BrowserContext | null = null;
  /** The run's first page. */
  let page: Page | null = null;
  let pages: RunPages | null = null;
  /** The page of the action running or last run (its `target`): what screenshots show while it is open. */
  let actionPage: Page | null = null;
  /** The page a screenshot shows now: the action's, else the first one while open. */
  const shownPage = (): Page | null => pages?.visible(actionPage) ?? page;
  control.onStop = async (cause) => {
    if (cause.kind === "timeout") {
      const shown = shownPage();
      if (shown !== null && runOptions.screenshots !== "off") {
        control.timeoutScreenshot = await shown
          .screenshot({ type: "png", timeout: TIMEOUT_SCREENSHOT_TIMEOUT_MS })
          .catch(() => null);
      }
      // A timed-out run is exactly the one whose trace is worth reading.
      await evidence.stopTrace(options.logger);
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
    const shown = shownPage();
    if (shown === null) return null;
    // A page in the middle of a navigation (the click that submitted a form) can refuse a
    // screenshot; once it has loaded, the second try shows where the action led.
    for (let attempt = 1; ; attempt++) {
      try {
        return await shown.screenshot({ type: "png", timeout: SCREENSHOT_TIMEOUT_MS });
      } catch (error) {
        if (attempt >= 2 || shown.isClosed() || control.cause !== null) {
          options.logger?.warn({ err: error }, "could not take a screenshot");
          return null;
        }
        await shown.waitForLoadState("load", { timeout: SCREENSHOT_TIMEOUT_MS }).catch(() => undefined);
      }
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
    const redacted = redactResult(result);
    results.push(redacted);
    await options.onActionResult?.(redacted);
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
        pausedMs: 0,
        ...current.trace,
        error: { kind: "test_failure", message },
        ...(screenshotKey === undefined ? {} : { screenshotKey }),
      });
    }
    return finish("failed", { error: { kind: "test_failure", message, actionIndex: current.index } });
  };

  const contextOptions = (): NewContextOptions => ({
    ...(recording.viewport === undefined ? {} : { viewport: recording.viewport }),
    ...(evidence.recordVideo === undefined ? {} : { recordVideo: evidence.recordVideo }),
  });
  /** A context and its page; without video when Playwright's ffmpeg is missing (video is evidence, not the test). */
  const openPage = async (): Promise<OpenedPage> => {
    try {
      return await pool.newPage(contextOptions());
    } catch (error) {
      if (evidence.recordVideo === undefined || !isFfmpegMissingError(error)) throw error;
      options.logger?.warn(
        { err: error },
        "video needs Playwright's ffmpeg (npx playwright install ffmpeg); this run is recorded without video",
      );
      evidence.disableVideo();
      const second = await pool.newContext(contextOptions());
      return { context: second, page: await second.newPage(), egress: pool.egressSession(second) };
    }
  };

  let shutdown: Promise<void> | null = null;
  /** Stops timers, saves the trace and closes the context; once, whichever way the run ends. */
  const shutDown = (): Promise<void> => {
    shutdown ??= (async () => {
      if (runTimer !== undefined) clearTimeout(runTimer);
      options.signal?.removeEventListener("abort", onAbort);
      await control.settled();
      // When the run was stopped, onStop already closed the context (and saved what it could).
      if (control.cause === null && context !== null) await evidence.stopTrace(options.logger);
      await context?.close().catch(() => undefined);
    })();
    return shutdown;
  };

  const run = async (): Promise<RunResult> => {
    const opening = openPage();
    let opened: OpenedPage | null;
    try {
      opened = await Promise.race([opening, control.stopped.then(() => null)]);
    } catch (error) {
      if (control.cause !== null) return await stoppedResult();
      throw new RunError("transient", `Could not open a browser context: ${cleanMessage(String(error))}`, {
        cause: error,
      });
    }
    if (opened === null || control.cause !== null) {
      void opening.then((late) => late.context.close()).catch(() => undefined);
      return await stoppedResult();
    }
    context = opened.context;
    page = opened.page;
    const runPages = new RunPages(opened.context, opened.page);
    pages = runPages;
    const egressPolicy = options.egressPolicy ?? pool.egressPolicy ?? UNRESTRICTED_EGRESS;
    opened.egress?.bind(egressPolicy);
    const egress = new EgressWatch(opened.page, opened.egress, egressPolicy);
    // Each page the run opens (popups, target=_blank links) gets its own watch: a refused
    // navigation there fails the first action that targets that page.
    const popupWatches = new Map<Page, EgressWatch>();
    const session = opened.egress;
    context.on("page", (popup) => {
      if (popup !== page) popupWatches.set(popup, new EgressWatch(popup, session, egressPolicy));
    });
    const watchOf = (of: Page): EgressWatch => popupWatches.get(of) ?? egress;
    const dialogAnswer = recording.dialogs ?? "accept";
    // Without a listener Playwright dismisses every dialog; with one, each must be answered or the
    // page hangs. Answering can race the page closing, which is fine.
    context.on("dialog", (dialog) => {
      answerDialog(dialog, dialogAnswer).catch(() => undefined);
    });
    await evidence.startTrace(context, options.logger);
    const activePage = page;

    try {
      if (recording.startUrl !== undefined) {
        await gotoUrl(activePage, recording.startUrl, "load", options.actionTimeoutMs, egressPolicy);
        const refused = egress.takeBlockedNavigation() ?? egress.takeUnreachableNavigation();
        if (refused !== null) throw refused;
      }
    } catch (error) {
      if (control.cause !== null) return await stoppedResult();
      const failure = classifyError(error, { navigating: true });
      const message = redact(`Opening ${recording.startUrl ?? "the page"} failed: ${failure.message}`);
      if (failure.retryable) throw new RunError(failure.kind, message, { cause: error });
      return finish(outcomeFor(failure.kind), { error: errorInfo(failure.kind, message, failure.code) });
    }

    for (const [index, action] of recording.actions.entries()) {
      if (control.cause !== null) return await stoppedResult();
      const delayMs = realtimeDelayMs(action.delayBeforeMs, runOptions);
      let pausedMs = Math.round(delayMs);
      if (delayMs > 0) {
        const waitStartedAt = new Date();
        const waitStarted = performance.now();
        await sleep(delayMs, control.signal);
        if (control.cause !== null) {
          return await stoppedResult({ index, startedAt: waitStartedAt, started: waitStarted, trace: {} });
        }
      }

      const timeoutMs = action.timeoutMs ?? options.actionTimeoutMs;
      const startedAt = new Date();
      const started = performance.now();
      const deadline = Date.now() + timeoutMs;
      const trace: SelectorTrace = {};
      // `[]` is the top frame, as no frame is.
      const frame = Array.isArray(action.frame) && action.frame.length === 0 ? undefined : action.frame;
      const budget = { timeoutMs, deadline, signal: control.signal };
      // Until its page is found (or when it never is), the action is reported on the first page.
      let thisPage = runPages.main;
      actionPage = null;

      let failure: unknown = null;
      let passed = false;
      try {
        thisPage = await runPages.find(action.target, budget);
        actionPage = thisPage;
        const scope: Scope =
          typeof frame === "object" ? await frameAtPath(thisPage, frame, budget) : frameScope(thisPage, frame);
        const actionContext: ActionContext = {
          page: thisPage,
          scope,
          frame,
          pages: runPages,
          action,
          timeoutMs,
          deadline,
          remainingMs: () => Math.max(1, deadline - Date.now()),
          signal: control.signal,
          egressPolicy,
          allowExpressions: options.allowExpressions ?? false,
          pace: async (recordedMs: number) => {
            const ms = realtimeDelayMs(recordedMs, runOptions);
            pausedMs += Math.round(ms);
            if (ms > 0) await sleep(ms, control.signal);
          },
          resolve: async (selector: Selector, resolveOptions: ResolveOptions = {}): Promise<ResolvedSelector> => {
            const resolved = await resolveSelector(scope, selector, {
              ...budget,
              ...(resolveOptions.visible === undefined ? {} : { visible: resolveOptions.visible }),
              ...(frame === undefined ? {} : { frame }),
              onTried: (tried) => {
                trace.selectorsTried = tried;
              },
            });
            trace.selectorUsed = resolved.selectorUsed;
            trace.selectorsTried = resolved.selectorsTried;
            return resolved;
          },
          recordSelectors: ({ selectorUsed, selectorsTried }) => {
            if (selectorUsed === undefined) delete trace.selectorUsed;
            else trace.selectorUsed = selectorUsed;
            trace.selectorsTried = selectorsTried;
          },
        };
        // Each entry of ACTION_EXECUTORS takes its own action type; `action.type` picks the match.
        await (ACTION_EXECUTORS[action.type] as ActionExecutor<ActionType>)(actionContext);
        passed = true;
      } catch (error) {
        failure = error;
      }
      if (control.cause !== null) return await stoppedResult({ index, startedAt, started, trace });
      if (!passed && thisPage.isClosed() && isBrowserGoneError(failure) && !isBrowserGoneNow(context)) {
        // Only the action's page went away (a popup closing itself), not the browser: that is
        // what the page did, not an infrastructure failure to retry.
        failure = new RunError(
          "test_failure",
          `The page ${thisPage === runPages.main ? "(target main)" : JSON.stringify(thisPage.url())} closed during the action`,
          { cause: failure },
        );
      }
      // The page went somewhere the policy refuses (the action's own navigation, a redirect, a
      // link or a form): that is the action's failure, whatever the action itself reported. A
      // navigation that reached an allowed but silent site fails as the network error it is.
      const watch = watchOf(thisPage);
      const refusedNavigation =
        watch.takeBlockedNavigation() ?? (action.type === "navigate" ? watch.takeUnreachableNavigation() : null);
      if (refusedNavigation !== null) {
        failure = refusedNavigation;
        passed = false;
      }
      const blockedRequests = egress.takeBlockedRequests();

      const base = {
        index,
        actionId: actionKey(action, index),
        type: action.type,
        startedAt,
        durationMs: Math.round(performance.now() - started),
        pausedMs,
        ...trace,
        pageUrl: thisPage.url(),
        ...(blockedRequests === undefined ? {} : { blockedRequests }),
      };
      const everyKey = async (): Promise<string | undefined> =>
        runOptions.screenshots === "every"
          ? await storeScreenshot(`${options.artifactPrefix}/action-${index + 1}.png`, await captureScreenshot())
          : undefined;
      if (passed) {
        const screenshotKey = await everyKey();
        await report({ ...base, status: "passed", ...(screenshotKey === undefined ? {} : { screenshotKey }) });
        continue;
      }

      // A navigation failing on a page the recording itself took offline is the test's outcome,
      // not the site being unreachable.
      const classified = classifyError(failure, {
        navigating: action.type === "navigate" && !runPages.isOffline(thisPage),
      });
      const error = errorInfo(classified.kind, redact(cleanMessage(classified.message)), classified.code);
      if (classified.retryable) throw new RunError(error.kind, error.message, { cause: failure });
      if (action.optional) {
        const screenshotKey = await everyKey();
        await report({ ...base, status: "skipped", error, ...(screenshotKey === undefined ? {} : { screenshotKey }) });
        continue;
      }
      const screenshotKey =
        runOptions.screenshots === "off"
          ? undefined
          : await storeScreenshot(failureKey(options.artifactPrefix, index), await captureScreenshot());
      await report({ ...base, status: "failed", error, ...(screenshotKey === undefined ? {} : { screenshotKey }) });
      return finish(outcomeFor(error.kind), { error: { ...error, actionIndex: index } });
    }
    // A required failure returned above, so getting here means every required action passed.
    return finish("passed");
  };

  try {
    const result = await run();
    await shutDown();
    // The video is complete only once the context has closed.
    const artifacts = await evidence.store(page, options.artifacts, options.artifactPrefix, options.logger);
    return { ...result, artifacts };
  } finally {
    await shutDown();
    await evidence.dispose();
  }
}

/** Answers a browser dialog as the recording says; a prompt accepted gets its default text. */
async function answerDialog(dialog: Dialog, answer: "accept" | "dismiss"): Promise<void> {
  if (answer === "dismiss") await dialog.dismiss();
  else await dialog.accept(dialog.type() === "prompt" ? dialog.defaultValue() : undefined);
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

/** Whether the context's browser is gone (crashed, disconnected), rather than just one of its pages. */
function isBrowserGoneNow(context: BrowserContext | null): boolean {
  return context === null || !(context.browser()?.isConnected() ?? false);
}

function errorInfo(kind: ErrorKind, message: string, code: RunErrorCode | undefined): RunErrorInfo {
  return code === undefined ? { kind, message } : { kind, code, message };
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
