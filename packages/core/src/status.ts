/** Every state a run can be in. `queued` and `running` are the only non-terminal ones. */
export const RUN_STATUSES = ["queued", "running", "passed", "failed", "errored", "cancelled"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const TERMINAL_STATUSES = ["passed", "failed", "errored", "cancelled"] as const;
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number];

export function isTerminal(status: RunStatus): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

/** Outcome of one action inside a run. */
export const ACTION_STATUSES = ["passed", "failed", "skipped"] as const;
export type ActionStatus = (typeof ACTION_STATUSES)[number];

/** Kinds of entries in a run's append-only event log. */
export const RUN_EVENT_TYPES = [
  "queued",
  "started",
  "finished",
  "cancel_requested",
  "cancelled",
  "handed_back",
  "retry_scheduled",
  "requeued",
  "stalled",
] as const;
export type RunEventType = (typeof RUN_EVENT_TYPES)[number];
