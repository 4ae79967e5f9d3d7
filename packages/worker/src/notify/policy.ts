/**
 * The delivery policy, pure: when an attempt's answer means delivered, retry (and when) or give
 * up. Success is a 2xx only; `410 Gone` disables the channel; `429` waits what `Retry-After` says;
 * anything else (another status, a timeout, a refused connection) retries on the schedule until it
 * is used up.
 */

/**
 * Waits before each attempt, ms: the first at once, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
 * 10 h (eight attempts over about 28 h; Standard Webhooks' and Svix's schedule).
 */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = [
  0,
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
];

/** Longest wait a `Retry-After` may impose, ms (the schedule's longest step). */
export const MAX_RETRY_AFTER_MS = 10 * 3_600_000;

/** A channel whose deliveries have all failed for this long is disabled, ms (3 days). */
export const DISABLE_AFTER_MS = 3 * 86_400_000;

/** What one attempt got back: an HTTP answer, an SMTP acceptance, or an error before either. */
export type AttemptResult =
  | { kind: "response"; status: number; body: string; retryAfter?: string | undefined }
  | { kind: "accepted"; reply: string }
  | { kind: "error"; message: string; permanent: boolean };

export interface Decision {
  result: "delivered" | "retry" | "failed";
  /** For `retry`: wait this long, ms. */
  delayMs?: number;
  error: string | null;
  /** Set when the channel must be disabled now. */
  disableChannel?: string;
}

/**
 * `Retry-After` as a wait from `now`, ms: delta-seconds or an HTTP date; null when absent or
 * unreadable. Capped at {@link MAX_RETRY_AFTER_MS}; a date in the past is 0.
 */
export function retryAfterMs(value: string | undefined, now: Date): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  let ms: number;
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(text);
    if (Number.isNaN(at)) return null;
    ms = at - now.getTime();
  }
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}

/** What attempt `attempt` (1 for the first) of a delivery comes to, under `schedule`. */
export function decide(attempt: number, result: AttemptResult, schedule: readonly number[], now: Date): Decision {
  const next = (error: string, delayMs?: number): Decision =>
    attempt < schedule.length
      ? { result: "retry", delayMs: delayMs ?? schedule[attempt] ?? 0, error }
      : { result: "failed", error: `${error} (attempt ${attempt} of ${schedule.length}: no more attempts)` };
  switch (result.kind) {
    case "accepted":
      return { result: "delivered", error: null };
    case "error":
      return result.permanent ? { result: "failed", error: result.message } : next(result.message);
    case "response": {
      if (result.status >= 200 && result.status < 300) return { result: "delivered", error: null };
      if (result.status === 410) {
        const reason = `the endpoint answered 410 Gone on ${now.toISOString()}`;
        return { result: "failed", error: "HTTP 410 Gone: the channel is disabled", disableChannel: reason };
      }
      if (result.status === 429) {
        const wait = retryAfterMs(result.retryAfter, now);
        return next(`HTTP 429${wait === null ? "" : ` (Retry-After ${result.retryAfter})`}`, wait ?? undefined);
      }
      return next(`HTTP ${result.status}`);
    }
  }
}
