import { useInfiniteQuery } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { api, type Page, query, RUN_STATUSES, type Run } from "../api.ts";
import { POLL_MS, useProjectStream } from "../live.ts";
import { Link, navigate, useLocation, useTitle } from "../router.tsx";
import { ErrorMessage, Field, formatDuration, formatTime, LiveNote, StatusBadge } from "../ui.tsx";

const FILTERS = ["status", "suiteRunId", "ciBranch", "ciCommit"] as const;

/** Runs, newest first, filtered by what GET /api/runs supports; kept current by the project's stream. */
export function Runs() {
  useTitle("Runs");
  const { search } = useLocation();
  const filters = Object.fromEntries(FILTERS.map((name) => [name, search.get(name) ?? ""])) as Record<
    (typeof FILTERS)[number],
    string
  >;
  const qs = query(filters);
  const streamQs = query({ status: filters.status, suiteRunId: filters.suiteRunId });
  const { live } = useProjectStream(streamQs, ["runs"]);
  const runs = useInfiniteQuery({
    queryKey: ["runs", qs],
    queryFn: ({ pageParam }) =>
      api<Page<Run>>(`/api/runs${query({ ...filters, limit: 25, cursor: pageParam ?? undefined })}`),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    refetchInterval: live ? false : POLL_MS,
  });
  const items = runs.data?.pages.flatMap((page) => page.items) ?? [];

  return (
    <section aria-labelledby="runs-title">
      <div className="title-row">
        <h1 id="runs-title">Runs</h1>
        <LiveNote live={live} />
      </div>
      <RunFilters key={qs} initial={filters} />
      <ErrorMessage error={runs.error} />
      {runs.isPending ? <p>Loading…</p> : null}
      {!runs.isPending && items.length === 0 ? <p>No runs match.</p> : null}
      {items.length > 0 ? <RunTable runs={items} /> : null}
      {runs.hasNextPage ? (
        <button type="button" className="secondary" onClick={() => runs.fetchNextPage()}>
          Load more
        </button>
      ) : null}
    </section>
  );
}

function RunFilters({ initial }: { initial: Record<(typeof FILTERS)[number], string> }) {
  const [values, setValues] = useState(initial);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    navigate(`/runs${query(values)}`);
  };
  const set = (name: (typeof FILTERS)[number]) => (event: { target: { value: string } }) =>
    setValues({ ...values, [name]: event.target.value });
  return (
    <form className="filters" onSubmit={submit} aria-label="Filter runs">
      <Field id="filter-status" label="Status">
        <select id="filter-status" value={values.status} onChange={set("status")}>
          <option value="">any</option>
          {RUN_STATUSES.map((status) => (
            <option key={status} value={status}>
              {status}
            </option>
          ))}
          <option value="failed,errored">failed or errored</option>
        </select>
      </Field>
      <Field id="filter-suite-run" label="Suite run">
        <input id="filter-suite-run" value={values.suiteRunId} onChange={set("suiteRunId")} placeholder="srn_…" />
      </Field>
      <Field id="filter-branch" label="CI branch">
        <input id="filter-branch" value={values.ciBranch} onChange={set("ciBranch")} />
      </Field>
      <Field id="filter-commit" label="CI commit">
        <input id="filter-commit" value={values.ciCommit} onChange={set("ciCommit")} />
      </Field>
      <button type="submit">Apply</button>
    </form>
  );
}

export function RunTable({ runs }: { runs: Run[] }) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Status</th>
            <th scope="col">Actions</th>
            <th scope="col">Duration</th>
            <th scope="col">Created</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.id}>
              <td>
                <Link to={`/runs/${run.id}`}>{run.name}</Link>
                <div className="muted mono">{run.id}</div>
              </td>
              <td>
                <StatusBadge status={run.status} />
                {run.flaky ? <span className="badge badge-flaky">flaky</span> : null}
                {run.quarantined ? <span className="badge">quarantined</span> : null}
              </td>
              <td>
                {run.counts.passed}/{run.counts.total}
                {run.counts.failed ? <span className="muted"> ({run.counts.failed} failed)</span> : null}
              </td>
              <td>{formatDuration(run.durationMs)}</td>
              <td>{formatTime(run.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
