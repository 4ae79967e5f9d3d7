import type { RunStatus } from "./status.ts";

/**
 * A run's state as a projection of its event log. The runs row is what the API serves; this is
 * the same state derived from `run_events` alone, and tests hold the two equal — so the log is a
 * complete account of what happened to every run.
 */
export interface ProjectedEvent {
  type: string;
  attempt: number;
  worker: string | null;
  data: Record<string, unknown>;
}

export interface ProjectedRun {
  status: RunStatus;
  attempt: number;
  worker: string | null;
  cancelRequested: boolean;
  counts: { passed: number; failed: number; skipped: number } | null;
  errorKind: string | null;
}

export function projectRun(events: readonly ProjectedEvent[]): ProjectedRun {
  const state: ProjectedRun = {
    status: "queued",
    attempt: 0,
    worker: null,
    cancelRequested: false,
    counts: null,
    errorKind: null,
  };
  for (const event of events) {
    switch (event.type) {
      case "queued":
        break;
      case "started":
        state.status = "running";
        state.attempt = event.attempt;
        state.worker = event.worker;
        state.counts = null;
        state.errorKind = null;
        break;
      case "cancel_requested":
        state.cancelRequested = true;
        break;
      case "handed_back":
      case "retry_scheduled":
        state.status = "queued";
        break;
      case "requeued":
        if (event.data.from === "running") state.status = "queued";
        break;
      case "cancelled":
        state.status = "cancelled";
        state.errorKind = "cancelled";
        break;
      case "finished": {
        state.status = event.data.status as RunStatus;
        const counts = event.data.counts as ProjectedRun["counts"] | undefined;
        if (counts) state.counts = { passed: counts.passed, failed: counts.failed, skipped: counts.skipped };
        const error = event.data.error as { kind?: string } | undefined;
        state.errorKind = error?.kind ?? null;
        break;
      }
      case "stalled":
        break;
      default:
        throw new Error(`unknown run event type "${event.type}"`);
    }
  }
  return state;
}
