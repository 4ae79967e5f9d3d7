/**
 * Installation-wide statistics for operators (Prometheus metrics). The one place in this package
 * where queries are deliberately NOT scoped by project: they count every project's runs
 * together and return totals only, never a row, an id or anything a tenant wrote. They serve the
 * API's `GET /metrics`, which needs METRICS_TOKEN (never a project's API key); nothing reachable
 * with a project key may call them.
 */
import { count, sql } from "drizzle-orm";
import type { Db } from "../client.ts";
import { runs } from "../schema.ts";

/** Every project's runs, counted together (see {@link countRunsByStatus}). */
export interface RunTotals {
  /** Runs by status; a status with no run is absent. */
  byStatus: Map<string, number>;
  /** Runs started at least once (attempt > 0). */
  started: number;
  /** Attempts started in all (a retried or recovered run counts once per attempt). */
  attempts: number;
}

/**
 * Counts every project's runs by status, with the runs and attempts ever started: one grouped
 * scan of `runs`. Too heavy to run on every scrape of every replica; the API repeats it every
 * METRICS_REPORTING_INTERVAL_MS.
 */
export async function countRunsByStatus(db: Db): Promise<RunTotals> {
  const rows = await db
    .select({
      status: runs.status,
      runs: count(),
      started: sql<string | number>`count(*) filter (where ${runs.attempt} > 0)`,
      attempts: sql<string | number>`coalesce(sum(${runs.attempt}), 0)`,
    })
    .from(runs)
    .groupBy(runs.status);
  const totals: RunTotals = { byStatus: new Map(), started: 0, attempts: 0 };
  for (const row of rows) {
    totals.byStatus.set(row.status, Number(row.runs));
    totals.started += Number(row.started);
    totals.attempts += Number(row.attempts);
  }
  return totals;
}
