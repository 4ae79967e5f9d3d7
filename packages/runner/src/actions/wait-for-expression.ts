import { Script } from "node:vm";
import { RunError } from "@conveyor/core";
import type { Frame } from "playwright-core";
import { isBrowserGoneError } from "../classify.ts";
import { describeFrame, type Scope } from "../selectors.ts";
import { sleep } from "../sleep.ts";
import type { ActionExecutor } from "./types.ts";

const POLL_INTERVALS_MS = [0, 50, 100, 250, 500];
/**
 * How long the one last evaluation may take when none finished within the budget, ms (as the
 * last read of an assert: on a loaded machine one evaluation can take over a second).
 */
const LAST_EVALUATION_TIMEOUT_MS = 5_000;
/** Longest part of the expression, or of its error, quoted in a failure message, in characters. */
const MAX_QUOTED_LENGTH = 200;

/** The message of a run refused because its project does not allow expressions. */
export const EXPRESSIONS_DISABLED_MESSAGE =
  "waitForExpression runs the recording's own JavaScript in the page, and this project does not allow that: a project admin must enable expressions for the project (allowExpressions) to replay this recording, or the action must be removed";

type Outcome = { kind: "truthy" } | { kind: "falsy" } | { kind: "threw"; message: string } | { kind: "pending" };

/**
 * Evaluates the expression in the action's frame (the page's own JavaScript world, so it sees the
 * page's globals) until it is truthy — Chrome DevTools Recorder's waitForExpression. A promise is
 * awaited. An expression that throws (`window.app.ready` before the app exists) is evaluated
 * again until the budget ends; one that does not even parse fails at once. Runs only when the
 * caller allows expressions (`allowExpressions`); otherwise the action is refused, `permanent`
 * with code `expressions_disabled`, before anything is evaluated.
 */
export const waitForExpression: ActionExecutor<"waitForExpression"> = async (ctx) => {
  const { action, allowExpressions, deadline, signal, timeoutMs } = ctx;
  if (!allowExpressions) {
    throw new RunError("permanent", EXPRESSIONS_DISABLED_MESSAGE, { code: "expressions_disabled" });
  }
  // Kept an expression: any value it ends with, awaited, decides. The line breaks keep a trailing
  // `// comment` from swallowing the closing brackets.
  const source = `(async () => Boolean(await (\n${action.expression}\n)))()`;
  try {
    // Compiled here only to tell a syntax error at once (never run in this process).
    new Script(source);
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${firstLine(error)}` : String(error);
    throw new RunError("permanent", `The expression does not parse: ${reason}`);
  }
  const frame = await frameOf(ctx.scope, ctx.remainingMs());

  // What the last evaluation that finished said (one cut short by the deadline says nothing).
  let last: Outcome = { kind: "pending" };
  for (let round = 0; ; round++) {
    const outcome = await evaluateOnce(frame, source, deadline - Date.now());
    if (outcome.kind === "truthy") return;
    if (outcome.kind !== "pending") last = outcome;
    const remaining = deadline - Date.now();
    if (remaining <= 0 || signal.aborted) break;
    const interval = POLL_INTERVALS_MS[Math.min(round + 1, POLL_INTERVALS_MS.length - 1)] ?? 500;
    await sleep(Math.min(interval, remaining), signal);
  }
  if (last.kind === "pending" && !signal.aborted) {
    // No evaluation finished within a short budget on a slow page: one last one decides, on what
    // the page says rather than on the clock.
    last = await evaluateOnce(frame, source, LAST_EVALUATION_TIMEOUT_MS);
    if (last.kind === "truthy") return;
  }
  const where = ctx.frame === undefined ? "" : ` in frame ${describeFrame(ctx.frame)}`;
  const seen =
    last.kind === "threw"
      ? `it threw: ${quote(last.message)}`
      : last.kind === "pending"
        ? "no evaluation finished"
        : "it was falsy";
  throw new RunError(
    "test_failure",
    `Expected the expression ${quote(action.expression)} to be truthy${where} within ${timeoutMs} ms, but ${seen}`,
  );
};

/** One evaluation, bounded by `budgetMs` (an expression may await a promise that never settles). */
async function evaluateOnce(frame: Frame, source: string, budgetMs: number): Promise<Outcome> {
  const evaluation = frame.evaluate(source).then(
    (value): Outcome => (value === true ? { kind: "truthy" } : { kind: "falsy" }),
    (error: unknown): Outcome => {
      if (isBrowserGoneError(error)) throw error;
      // The page navigated under the evaluation: nothing was decided, look again.
      if (/Execution context was destroyed|navigat/i.test(String(error))) return { kind: "pending" };
      return { kind: "threw", message: firstLine(error).replace(/^\w+\.evaluate: /, "") };
    },
  );
  const timer = new AbortController();
  const expired = sleep(Math.max(1, budgetMs), timer.signal).then((): Outcome => ({ kind: "pending" }));
  try {
    return await Promise.race([evaluation, expired]);
  } finally {
    timer.abort();
    evaluation.catch(() => undefined);
  }
}

/** The frame a scope stands for: the page's main frame, the frame itself, or the iframe's content. */
async function frameOf(scope: Scope, timeoutMs: number): Promise<Frame> {
  if ("mainFrame" in scope) return scope.mainFrame();
  if (!("owner" in scope)) return scope;
  const owner = await scope.owner().elementHandle({ timeout: timeoutMs });
  const frame = await owner.contentFrame();
  await owner.dispose();
  if (frame === null) throw new RunError("test_failure", "The frame's element holds no document");
  return frame;
}

function quote(text: string): string {
  const shown = text.length > MAX_QUOTED_LENGTH ? `${text.slice(0, MAX_QUOTED_LENGTH)}…` : text;
  return JSON.stringify(shown);
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n", 1)[0] ?? message;
}
