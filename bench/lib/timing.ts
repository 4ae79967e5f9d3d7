/** Timings read back from Postgres: the database clock saw every step of every run. */
import type { Stack } from "./processes.ts";
import { quantile } from "./stats.ts";

/** Runs finished per second, from the first run's creation to the last one's finish. */
export async function drainRate(
  stack: Stack,
  ids: readonly string[],
): Promise<{ runsPerSec: number; seconds: number }> {
  const [row] = await stack.db.query<{ seconds: number }>(
    "select extract(epoch from max(finished_at) - min(created_at))::float8 as seconds from runs where id = any($1)",
    [ids],
  );
  const seconds = Number(row?.seconds ?? Number.NaN);
  return { runsPerSec: ids.length / seconds, seconds };
}

/** Enqueue → start latency per run: run `created_at` to its `started` event's `created_at`, ms. */
export async function startLatencies(
  stack: Stack,
  ids: readonly string[],
): Promise<{ p50: number; p99: number; all: number[] }> {
  const rows = await stack.db.query<{ ms: number }>(
    `select extract(epoch from min(e.created_at) - r.created_at)::float8 * 1000 as ms
       from runs r join run_events e on e.run_id = r.id and e.type = 'started'
      where r.id = any($1) group by r.id, r.created_at`,
    [ids],
  );
  const all = rows.map((r) => Number(r.ms));
  return { p50: quantile(all, 0.5), p99: quantile(all, 0.99), all };
}

/**
 * Where a run's time went, medians over `ids`, ms: queued (created → started), executing as the
 * runner measured it (duration_ms), and the rest of started → finished (claim, result writes).
 */
export async function runBreakdown(stack: Stack, ids: readonly string[]): Promise<Record<string, number>> {
  const [row] = await stack.db.query<Record<string, number>>(
    `select
       percentile_cont(0.5) within group (order by extract(epoch from started_at - created_at) * 1000)::float8 as queued_ms,
       percentile_cont(0.5) within group (order by duration_ms)::float8 as runner_ms,
       percentile_cont(0.5) within group (order by extract(epoch from finished_at - started_at) * 1000)::float8 as started_to_finished_ms
     from runs where id = any($1)`,
    [ids],
  );
  return Object.fromEntries(Object.entries(row ?? {}).map(([k, v]) => [k, Number(v)]));
}
