import type { TerminalStatus } from "./status.ts";

/**
 * The error taxonomy. Every failure inside a run is one of these kinds, and the kind alone
 * decides what happens next:
 *
 * - `test_failure`: the site did not do what the recording expects (missing element, assertion
 *   false). A normal outcome: the run ends `failed`, never retried.
 * - `transient`: infrastructure broke under us (browser crashed, connection lost). Retried at once.
 * - `recoverable`: infrastructure is busy or not there yet. Retried with backoff and jitter.
 * - `permanent`: the run can never succeed as submitted (invalid recording, missing variable).
 *   Ends `errored` at once.
 * - `cancelled`: a user or operator asked the run to stop.
 */
export const ERROR_KINDS = ["test_failure", "transient", "recoverable", "permanent", "cancelled"] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/**
 * Finer codes within a kind, for failures a user acts on differently: `blocked_by_policy` — the
 * egress policy refused a request the recording made (a `test_failure`: evidence, never a retry);
 * `expressions_disabled` — the recording runs its own JavaScript in the page (waitForExpression)
 * and its project does not allow that (`permanent`: the project's setting must change first).
 */
export const RUN_ERROR_CODES = ["blocked_by_policy", "expressions_disabled"] as const;
export type RunErrorCode = (typeof RUN_ERROR_CODES)[number];

export class RunError extends Error {
  /** The kind: alone it decides what happens next (see the taxonomy above). */
  readonly kind: ErrorKind;
  /** A finer code within the kind, when there is one. */
  readonly code: RunErrorCode | undefined;
  /**
   * For a retried error: the delay before the next attempt, ms, as decided once by the worker's
   * processor (and written into the run's `retry_scheduled` event). The queue's backoff strategy
   * returns exactly this, so the event and the queue cannot disagree.
   */
  readonly retryDelayMs: number | undefined;

  constructor(
    kind: ErrorKind,
    message: string,
    options?: { cause?: unknown; code?: RunErrorCode; retryDelayMs?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RunError";
    this.kind = kind;
    this.code = options?.code;
    this.retryDelayMs = options?.retryDelayMs;
  }

  /** Whether the queue should try the run again. */
  get retryable(): boolean {
    return this.kind === "transient" || this.kind === "recoverable";
  }
}

/**
 * The one classification of an error thrown while executing a run: a RunError keeps its kind;
 * anything else (a dropped Postgres connection, a Redis error, a bug) is infrastructure,
 * `transient`, with the original as its cause.
 */
export function toRunError(error: unknown): RunError {
  if (error instanceof RunError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new RunError("transient", message, { cause: error });
}

/** What a worker does with a run that ended with an error of this kind. */
export type ErrorDisposition =
  | { action: "finish"; status: TerminalStatus }
  | { action: "retry"; delay: "immediate" | "backoff" };

export function dispositionFor(kind: ErrorKind): ErrorDisposition {
  switch (kind) {
    case "test_failure":
      return { action: "finish", status: "failed" };
    case "permanent":
      return { action: "finish", status: "errored" };
    case "cancelled":
      return { action: "finish", status: "cancelled" };
    case "transient":
      return { action: "retry", delay: "immediate" };
    case "recoverable":
      return { action: "retry", delay: "backoff" };
    default: {
      const unreachable: never = kind;
      throw new Error(`unknown error kind ${String(unreachable)}`);
    }
  }
}

/** Error codes of the HTTP API, each with its status. One envelope carries them all. */
export const API_ERROR_STATUS = {
  bad_request: 400,
  validation_failed: 400,
  invalid_json: 400,
  unauthorized: 401,
  key_expired: 401,
  key_revoked: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  idempotency_key_reused: 422,
  payload_too_large: 413,
  blocked_by_policy: 422,
  suite_empty: 422,
  unsupported_media_type: 415,
  rate_limited: 429,
  queue_full: 429,
  auth_throttled: 429,
  internal_error: 500,
  service_unavailable: 503,
} as const;
export type ApiErrorCode = keyof typeof API_ERROR_STATUS;

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly details?: unknown;
  constructor(code: ApiErrorCode, message: string, details?: unknown) {
    super(message);
    this.code = code;
    this.details = details;
    this.name = "ApiError";
  }

  get statusCode(): number {
    return API_ERROR_STATUS[this.code];
  }
}
