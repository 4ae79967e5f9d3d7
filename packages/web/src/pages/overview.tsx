import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Health, listAll, RUN_STATUSES, type Run, type Session } from "../api.ts";
import { POLL_MS, useProjectStream } from "../live.ts";
import { Link, useTitle } from "../router.tsx";
import { ErrorMessage, formatDuration, formatRate, LiveNote, StatusBadge } from "../ui.tsx";
import { RunTable } from "./runs.tsx";

const WINDOWS = [
  { id: "24h", label: "24 h", ms: 86_400_000, bucketMs: 3_600_000 },
  { id: "7d", label: "7 days", ms: 7 * 86_400_000, bucketMs: 86_400_000 },
  { id: "30d", label: "30 days", ms: 30 * 86_400_000, bucketMs: 86_400_000 },
] as const;

/** Runs the overview reads at most (GET /api/runs, newest first); a busier window says so. */
const MAX_RUNS = 1000;

export function Overview({ session }: { session: Session }) {
  useTitle("Overview");
  return session.kind === "operator" ? <Fleet /> : <ProjectOverview />;
}

function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? null;
}

export function summarize(runs: Run[]) {
  const byStatus = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<string, number>;
  for (const run of runs) byStatus[run.status] = (byStatus[run.status] ?? 0) + 1;
  const judged = (byStatus.passed ?? 0) + (byStatus.failed ?? 0) + (byStatus.errored ?? 0);
  const durations = runs
    .filter((r) => (r.status === "passed" || r.status === "failed") && r.durationMs !== null)
    .map((r) => r.durationMs ?? 0);
  return {
    byStatus,
    passRate: judged > 0 ? (byStatus.passed ?? 0) / judged : null,
    p95: percentile(durations, 95),
    flaky: runs.filter((r) => r.flaky).length,
  };
}

function ProjectOverview() {
  const [windowId, setWindowId] = useState<(typeof WINDOWS)[number]["id"]>("24h");
  const win = WINDOWS.find((w) => w.id === windowId) ?? WINDOWS[0];
  const { live } = useProjectStream("", ["overview"]);
  const runs = useQuery({
    queryKey: ["overview", "runs"],
    queryFn: () => listAll<Run>("/api/runs", MAX_RUNS),
    refetchInterval: live ? false : POLL_MS * 5,
  });
  const since = Date.now() - win.ms;
  const inWindow = (runs.data ?? []).filter((r) => Date.parse(r.createdAt) >= since);
  const truncated = (runs.data?.length ?? 0) >= MAX_RUNS && inWindow.length === runs.data?.length;
  const summary = summarize(inWindow);

  return (
    <section aria-labelledby="overview-title">
      <div className="title-row">
        <h1 id="overview-title">Overview</h1>
        <LiveNote live={live} />
      </div>
      <fieldset className="segmented">
        <legend className="visually-hidden">Time window</legend>
        {WINDOWS.map((w) => (
          <label key={w.id} className={w.id === windowId ? "checked" : ""}>
            <input
              type="radio"
              name="window"
              value={w.id}
              checked={w.id === windowId}
              onChange={() => setWindowId(w.id)}
            />
            {w.label}
          </label>
        ))}
      </fieldset>
      <ErrorMessage error={runs.error} />
      <div className="cards">
        <div className="card">
          <div className="card-label">Pass rate</div>
          <div className="card-value" data-testid="pass-rate">
            {formatRate(summary.passRate)}
          </div>
        </div>
        <div className="card">
          <div className="card-label">p95 duration</div>
          <div className="card-value">{formatDuration(summary.p95)}</div>
        </div>
        <div className="card">
          <div className="card-label">Runs</div>
          <div className="card-value">{inWindow.length}</div>
        </div>
        <div className="card">
          <div className="card-label">Flaky</div>
          <div className="card-value">{summary.flaky}</div>
        </div>
      </div>
      {truncated ? <p className="muted small">Computed from the latest {MAX_RUNS} runs of the window.</p> : null}
      <h2>Runs by status</h2>
      <ul className="status-counts">
        {RUN_STATUSES.map((status) => (
          <li key={status}>
            <Link className="status-link" to={`/runs?status=${status}`}>
              <StatusBadge status={status} /> {summary.byStatus[status] ?? 0}
            </Link>
          </li>
        ))}
      </ul>
      <h2>Trend</h2>
      <Trend runs={inWindow} since={since} bucketMs={win.bucketMs} />
      <h2>Latest runs</h2>
      {inWindow.length > 0 ? <RunTable runs={inWindow.slice(0, 10)} /> : <p>No runs in this window.</p>}
    </section>
  );
}

/** Pass rate per hour (24 h) or day: one bar each, its height the pass rate, red where runs failed. */
function Trend({ runs, since, bucketMs }: { runs: Run[]; since: number; bucketMs: number }) {
  const count = Math.ceil((Date.now() - since) / bucketMs);
  const buckets = Array.from({ length: count }, () => ({ passed: 0, judged: 0 }));
  for (const run of runs) {
    if (run.status !== "passed" && run.status !== "failed" && run.status !== "errored") continue;
    const i = Math.min(count - 1, Math.floor((Date.parse(run.createdAt) - since) / bucketMs));
    const bucket = buckets[i];
    if (!bucket) continue;
    bucket.judged++;
    if (run.status === "passed") bucket.passed++;
  }
  const width = 100 / count;
  const label = buckets
    .filter((b) => b.judged > 0)
    .map((b) => `${b.passed}/${b.judged}`)
    .join(", ");
  return (
    <svg
      className="trend"
      viewBox="0 0 100 40"
      preserveAspectRatio="none"
      role="img"
      aria-label={label ? `Passed out of finished runs per period, oldest first: ${label}` : "No finished runs"}
    >
      {buckets.map((bucket, i) => {
        if (bucket.judged === 0) return null;
        const rate = bucket.passed / bucket.judged;
        const height = Math.max(2, rate * 38);
        return (
          <rect
            // biome-ignore lint/suspicious/noArrayIndexKey: buckets are positions in time.
            key={i}
            x={i * width + width * 0.1}
            y={40 - height}
            width={width * 0.8}
            height={height}
            className={rate === 1 ? "bar-pass" : "bar-fail"}
          />
        );
      })}
    </svg>
  );
}

/** The operator's view: the installation's health, the runs queue and every worker. */
function Fleet() {
  const health = useQuery({
    queryKey: ["health"],
    queryFn: () => api<Health>("/api/health/detailed"),
    refetchInterval: 5000,
  });
  const queue = health.data?.queues.runs;
  return (
    <section aria-labelledby="fleet-title">
      <h1 id="fleet-title">Fleet</h1>
      <ErrorMessage error={health.error} />
      {health.data ? (
        <>
          <p>
            Installation: <StatusBadge status={health.data.status} />
          </p>
          {health.data.reasons.length > 0 ? (
            <ul>
              {health.data.reasons.map((reason) => (
                <li key={reason}>{reason}</li>
              ))}
            </ul>
          ) : null}
          <h2>Runs queue</h2>
          {queue ? (
            <div className="cards">
              {["backlog", "active", "delayed", "failed"].map((name) => (
                <div className="card" key={name}>
                  <div className="card-label">{name}</div>
                  <div className="card-value">{queue[name] ?? 0}</div>
                </div>
              ))}
            </div>
          ) : (
            <p>The queue could not be read.</p>
          )}
          <h2>Workers</h2>
          {health.data.workers.length === 0 ? <p>No worker is running.</p> : null}
          {health.data.workers.length > 0 ? (
            <div className="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Worker</th>
                    <th scope="col">Status</th>
                    <th scope="col">Active runs</th>
                    <th scope="col">Host</th>
                  </tr>
                </thead>
                <tbody>
                  {health.data.workers.map((worker) => (
                    <tr key={worker.name}>
                      <td>{worker.name}</td>
                      <td>
                        <StatusBadge status={worker.status} />
                      </td>
                      <td>
                        {worker.activeRuns ?? 0} / {worker.concurrency ?? "?"}
                      </td>
                      <td className="mono">{worker.host ?? "–"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
        </>
      ) : null}
    </section>
  );
}
