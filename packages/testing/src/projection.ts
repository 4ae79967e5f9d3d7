import { projectRun } from "@conveyor/core";
import { expect } from "vitest";

interface Queryable {
  query<T extends Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
}

/** Replays a run's events and checks they arrive at the stored row. */
export async function expectEventsProjectToRow(db: Queryable, runId: string): Promise<void> {
  const [row] = await db.query<{
    status: string;
    attempt: number;
    worker: string | null;
    actions_passed: number;
    actions_failed: number;
    actions_skipped: number;
    error_kind: string | null;
    cancel_requested_at: Date | null;
  }>(
    "select status, attempt, worker, actions_passed, actions_failed, actions_skipped, error_kind, cancel_requested_at from runs where id = $1",
    [runId],
  );
  const events = await db.query<{
    type: string;
    attempt: number;
    worker: string | null;
    data: Record<string, unknown>;
  }>("select type, attempt, worker, data from run_events where run_id = $1 order by id", [runId]);
  if (!row) throw new Error(`run ${runId} is missing`);
  const projected = projectRun(events);
  expect({
    status: projected.status,
    attempt: projected.attempt,
    worker: projected.worker,
    counts: projected.counts ?? { passed: 0, failed: 0, skipped: 0 },
    errorKind: projected.errorKind,
    cancelRequested: projected.cancelRequested,
  }).toEqual({
    status: row.status,
    attempt: row.attempt,
    worker: row.worker,
    counts: { passed: row.actions_passed, failed: row.actions_failed, skipped: row.actions_skipped },
    errorKind: row.error_kind,
    cancelRequested: row.cancel_requested_at !== null,
  });
}
