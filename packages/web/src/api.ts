/**
 * The dashboard's one way to the API: same-origin fetches that carry the session cookie, the
 * session's CSRF token on every write, and errors in the API's envelope turned into ApiError.
 * Types mirror the public API's responses (docs/api.md); only the fields the pages use.
 */

export const RUN_STATUSES = ["queued", "running", "passed", "failed", "errored", "cancelled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
export const TERMINAL: readonly RunStatus[] = ["passed", "failed", "errored", "cancelled"];

export interface Session {
  kind: "project" | "operator";
  project: { id: string; name: string } | null;
  keyId: string | null;
  scopes: string[];
  csrfToken: string;
  expiresAt: string;
}

export interface ActionResult {
  index: number;
  actionId: string | null;
  type: string;
  status: string;
  startedAt: string;
  durationMs: number | null;
  selectorUsed: string | null;
  selectorsTried: string[] | null;
  pageUrl: string | null;
  error: { kind: string | null; code: string | null; message: string } | null;
  screenshotUrl: string | null;
}

export interface Attempt {
  attempt: number;
  status: string;
  worker: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  error: { message: string; actionIndex: number | null } | null;
  artifacts: { video: string | null; trace: string | null };
  actions: ActionResult[];
}

export interface Run {
  id: string;
  recordingId: string | null;
  name: string;
  status: RunStatus;
  attempt: number;
  maxAttempts: number;
  flaky: boolean;
  quarantined: boolean;
  suiteRunId: string | null;
  scheduleId: string | null;
  ci: { branch?: string; commit?: string; buildId?: string } | null;
  worker: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  counts: { total: number; passed: number; failed: number; skipped: number };
  error: { kind: string | null; code: string | null; message: string; actionIndex: number | null } | null;
  artifacts: { video: string | null; trace: string | null };
  actions?: ActionResult[];
  attempts?: Attempt[];
}

export interface Recording {
  id: string;
  name: string;
  sourceFormat: string;
  actionCount: number;
  tags: string[];
  quarantine: { reason: string; until: string } | null;
  createdAt: string;
  updatedAt: string;
  /** What the import changed or left out (answered by POST /api/recordings only). */
  warnings?: ImportWarning[];
}

/** Where: `index` in the upload's `actions` (SaveAction) or `steps` (Chrome DevTools Recorder), `path` as `steps[3]`. */
export interface ImportWarning {
  index?: number;
  actionId?: string;
  type?: string;
  path?: string;
  message: string;
}

export interface RecordingStats {
  runs: number;
  passRate: number | null;
  flakyRate: number | null;
  p95DurationMs: number | null;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  status: "active" | "expired" | "revoked";
  createdAt: string;
  lastUsedAt: string | null;
}

export interface Health {
  status: string;
  reasons: string[];
  queues: { runs: Record<string, number> | null };
  workers: { name: string; host?: string; status: string; activeRuns?: number; concurrency?: number }[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

let csrfToken: string | null = null;

/** Remembers the session's CSRF token (from POST or GET /api/session). */
export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = init.method ?? "GET";
  const headers: Record<string, string> = { accept: "application/json" };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["x-csrf-token"] = csrfToken;
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | null)?.error;
    throw new ApiError(
      response.status,
      error?.code ?? "http_error",
      error?.message ?? `${method} ${path} answered ${response.status}`,
      error?.details,
    );
  }
  return body as T;
}

/** A query string from the set values of `params`. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/** Every item of a paginated list, at most `max`. */
export async function listAll<T>(path: string, max: number): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes("?") ? "&" : "?";
    const page: Page<T> = await api<Page<T>>(
      `${path}${separator}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < max);
  return items.slice(0, max);
}

export interface Suite {
  id: string;
  name: string;
  recordingIds: string[];
  tagQuery: { all?: string[]; any?: string[]; none?: string[] } | null;
  defaults: { priority?: number; timeoutMs?: number; retries?: number; variables?: string[] };
  maxParallel: number | null;
  failFast: boolean;
  createdAt: string;
  updatedAt: string;
}

export type SuiteRunStatus = "queued" | "running" | "passed" | "flaky" | "failed" | "cancelled";

export interface SuiteRun {
  id: string;
  suiteId: string | null;
  suiteName: string;
  status: SuiteRunStatus;
  total: number;
  counts: Record<"queued" | "running" | "passed" | "failed" | "errored" | "cancelled" | "flaky", number>;
  ci: { branch?: string; commit?: string; buildId?: string } | null;
  maxParallel: number | null;
  failFast: boolean;
  failedFastAt: string | null;
  cancelledAt: string | null;
  createdAt: string;
}

export interface Schedule {
  id: string;
  name: string;
  recordingId: string | null;
  suiteId: string | null;
  cron: string | null;
  timezone: string;
  everySeconds: number | null;
  startAt: string | null;
  endAt: string | null;
  jitterSeconds: number;
  overlap: "skip" | "buffer_one" | "allow" | "cancel_previous";
  catchUpWindowSeconds: number;
  pauseAfterFailures: number | null;
  paused: boolean;
  pausedAt: string | null;
  pauseReason: string | null;
  /** The next scheduled time not yet acted on; null once the schedule has ended. */
  nextFireAt: string | null;
  /** The next 5 scheduled times after now (shown while paused too). */
  next: string[];
  createdAt: string;
  updatedAt: string;
}

export type FireOutcome = "started" | "skipped_overlap" | "skipped_paused" | "buffered" | "missed" | "failed";

export interface ScheduleFire {
  scheduledAt: string;
  firedAt: string;
  outcome: FireOutcome;
  manual: boolean;
  runId: string | null;
  suiteRunId: string | null;
  reason: string | null;
}

/** A notification channel as the API shows it: `target` without secrets (never its URL or signing secret). */
export interface Channel {
  id: string;
  name: string;
  type: "webhook" | "slack" | "email";
  target: string;
  enabled: boolean;
  disabledReason: string | null;
  disabledAt: string | null;
  failingSince: string | null;
  createdAt: string;
}

export interface DeliveryAttempt {
  attempt: number;
  at: string;
  durationMs: number | null;
  responseStatus: number | null;
  error: string | null;
}

export interface Delivery {
  id: string;
  notificationId: string;
  channelId: string;
  type: string;
  status: "pending" | "delivered" | "failed" | "cancelled";
  attempts: number;
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  responseStatus: number | null;
  lastError: string | null;
  deliveredAt: string | null;
  createdAt: string;
  attemptLog: DeliveryAttempt[];
}

export interface AlertRule {
  id: string;
  name: string;
  scope: string;
  scopeValue: string | null;
  events: string[];
  afterConsecutiveFailures: number;
  remindEveryHours: number | null;
  channelIds: string[];
  enabled: boolean;
}

export interface MaintenanceWindow {
  id: string;
  scope: string;
  scopeValue: string | null;
  startsAt: string;
  endsAt: string;
  mode: "silence" | "pause";
  reason: string | null;
  active: boolean;
}

/** How one finished run of a recording ended (GET /api/recordings/:id/stats?runs=N `results`). */
export interface RecordingResult {
  runId: string;
  status: "passed" | "failed" | "errored" | "cancelled";
  flaky: boolean;
  finishedAt: string;
}

/** GET /api/recordings/:id/stats?runs=N: the stats of its last N finished runs, and each of them, oldest first. */
export interface RecordingHistory extends RecordingStats {
  results: RecordingResult[];
}

/** A variable a recording declares; a sensitive one's default comes back as "[redacted]" when set. */
export interface RecordingVariable {
  name: string;
  sensitive?: boolean;
  default?: string;
  description?: string;
}

/** GET /api/recordings/:id: the recording with its stored body (sensitive values redacted). */
export interface RecordingDetail extends Recording {
  recording: { variables?: RecordingVariable[] };
}
