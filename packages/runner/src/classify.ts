import { RunError } from "@conveyor/core";

/** Longest error message kept in results, in characters. Playwright call logs can run long. */
export const MAX_ERROR_MESSAGE_LENGTH = 2000;

const BROWSER_GONE =
  /Target page, context or browser has been closed|Browser has been closed|Browser closed|browser has disconnected|Target closed|Target crashed|Page crashed/i;

/** Network failures that mean "the site is not reachable right now", worth a retry later. */
const UNREACHABLE =
  /net::ERR_(CONNECTION_REFUSED|NAME_NOT_RESOLVED|CONNECTION_RESET|CONNECTION_CLOSED|CONNECTION_TIMED_OUT|ADDRESS_UNREACHABLE|INTERNET_DISCONNECTED|NETWORK_CHANGED|TIMED_OUT)\b/;

/** URLs the browser will never open, whatever the site does. */
const UNOPENABLE_URL = /Cannot navigate to invalid URL|net::ERR_UNSAFE_PORT|net::ERR_INVALID_URL/;

/** Whether the browser, context or page went away under the call (crash, disconnect, close). */
export function isBrowserGoneError(error: unknown): boolean {
  return BROWSER_GONE.test(messageOf(error));
}

/**
 * Sorts a failure into the taxonomy: the browser going away is `transient`; an unreachable site
 * while navigating is `recoverable`; a URL that can never open is `permanent`; everything else
 * (missing element, assertion, timeout) is the test failing.
 */
export function classifyError(error: unknown, context: { navigating: boolean }): RunError {
  if (error instanceof RunError) return error;
  const message = cleanMessage(messageOf(error));
  if (BROWSER_GONE.test(message)) return new RunError("transient", `Browser went away: ${message}`, { cause: error });
  if (context.navigating && UNREACHABLE.test(message)) return new RunError("recoverable", message, { cause: error });
  if (context.navigating && UNOPENABLE_URL.test(message)) return new RunError("permanent", message, { cause: error });
  return new RunError("test_failure", message, { cause: error });
}

/** Terminal colour codes Playwright puts into call logs. */
const ANSI_ESCAPE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");

/** Drops colour codes and Playwright's browser log dump, and caps the length. */
export function cleanMessage(message: string): string {
  const withoutLogs = message.split(/\n\s*Browser logs:/, 1)[0] ?? message;
  const trimmed = withoutLogs.replace(ANSI_ESCAPE, "").trim();
  return trimmed.length > MAX_ERROR_MESSAGE_LENGTH ? `${trimmed.slice(0, MAX_ERROR_MESSAGE_LENGTH - 1)}…` : trimmed;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
