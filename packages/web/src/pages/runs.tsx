import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import {
  api,
  listAll,
  type Page,
  query,
  type Recording,
  RUN_STATUSES,
  type Run,
  type Schedule,
  type Suite,
} from "../api.ts";
import { POLL_MS, useProjectStream } from "../live.ts";
import { Link, navigate, useLocation, useTitle } from "../router.tsx";
import { ErrorMessage, Field, formatDuration, formatTime, LiveNote, StatusBadge } from "../ui.tsx";

/** The filters of GET /api/runs the page offers, by their query parameter (the page's URL uses the same). */
const FILTERS = [
  "status",
  "flaky",
  "recordingId",
  "suiteId",
  "scheduleId",
  "suiteRunId",
  "ciBranch",
  "ciCommit",
] as const;
type Filter = (typeof FILTERS)[number];
type Filters = Record<Filter, string>;
/** Typed, and applied when the form is submitted; the selects apply as soon as they change. */
const TYPED: readonly Filter[] = ["suiteRunId", "ciBranch", "ciCommit"];
/** Most recordings, suites and schedules a select lists. */
const OPTIONS_MAX = 500;

/**
 * Runs, newest first, filtered by what GET /api/runs supports; kept current by the project's
 * stream. The filters live in the page's query string (`/ui/runs?status=failed&flaky=true`), so a
 * filtered list can be shared, bookmarked and reloaded; changing one replaces the URL rather than
 * adding a history entry per change.
 */
export function Runs() {
  useTitle("Runs");
  const { search } = useLocation();
  const filters = Object.fromEntries(FILTERS.map((name) => [name, search.get(name) ?? ""])) as Filters;
  const qs = query(filters);
  // The stream filters by what it can (status, suite run, schedule); any other event just refetches.
  const streamQs = query({ status: filters.status, suiteRunId: filters.suiteRunId, scheduleId: filters.scheduleId });
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
  const filtered = FILTERS.some((name) => filters[name] !== "");

  return (
    <section aria-labelledby="runs-title">
      <div className="title-row">
        <h1 id="runs-title">Runs</h1>
        <LiveNote live={live} />
      </div>
      <RunFilters key={qs} current={filters} />
      <ErrorMessage error={runs.error} />
      {runs.isPending ? <p>Loading…</p> : null}
      {!runs.isPending && items.length === 0 ? (
        <p>{filtered ? "No runs match these filters." : "No runs yet."}</p>
      ) : null}
      {items.length > 0 ? <RunTable runs={items} /> : null}
      {runs.hasNextPage ? (
        <button type="button" className="secondary" onClick={() => runs.fetchNextPage()}>
          Load more
        </button>
      ) : null}
    </section>
  );
}

/** The page's URL with these filters, replacing the current one (filter changes are not history). */
function applyFilters(values: Filters): void {
  navigate(`/runs${query(values)}`, { replace: true });
}

/**
 * Named things to pick from, with the one the URL names kept even when it is not among them (a
 * shared link to a deleted recording still shows what it filters by). Names are not unique: a
 * repeated one shows its id too.
 */
function options(items: { id: string; name: string }[] | undefined, selected: string) {
  const list = (items ?? []).map((item) => ({ id: item.id, name: item.name }));
  if (selected && !list.some((item) => item.id === selected)) list.unshift({ id: selected, name: selected });
  const seen = new Map<string, number>();
  for (const item of list) seen.set(item.name, (seen.get(item.name) ?? 0) + 1);
  return list.map((item) => ((seen.get(item.name) ?? 0) > 1 ? { ...item, name: `${item.name} (${item.id})` } : item));
}

function RunFilters({ current }: { current: Filters }) {
  const [typed, setTyped] = useState(current);
  const recordings = useQuery({
    queryKey: ["recordings", "options"],
    queryFn: () => listAll<Recording>("/api/recordings", OPTIONS_MAX),
    staleTime: 60_000,
  });
  const suites = useQuery({
    queryKey: ["suites", "options"],
    queryFn: () => listAll<Suite>("/api/suites", OPTIONS_MAX),
    staleTime: 60_000,
  });
  const schedules = useQuery({
    queryKey: ["schedules", "options"],
    queryFn: () => listAll<Schedule>("/api/schedules", OPTIONS_MAX),
    staleTime: 60_000,
  });
  const choose = (name: Filter) => (event: { target: { value: string } }) =>
    applyFilters({ ...current, ...pick(typed, TYPED), [name]: event.target.value });
  const type = (name: Filter) => (event: { target: { value: string } }) =>
    setTyped({ ...typed, [name]: event.target.value });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    applyFilters({ ...current, ...pick(typed, TYPED) });
  };
  const filtered = FILTERS.some((name) => current[name] !== "");
  return (
    <form className="filters" onSubmit={submit} aria-label="Filter runs">
      <Field id="filter-status" label="Status">
        <select id="filter-status" value={current.status} onChange={choose("status")}>
          <option value="">any</option>
          {RUN_STATUSES.map((status) => (
            <option key={status} value={status}>
              {status}
            </option>
          ))}
          <option value="failed,errored">failed or errored</option>
        </select>
      </Field>
      <Field id="filter-flaky" label="Flaky">
        <select id="filter-flaky" value={current.flaky} onChange={choose("flaky")}>
          <option value="">any</option>
          <option value="true">flaky only</option>
          <option value="false">not flaky</option>
        </select>
      </Field>
      <Field id="filter-recording" label="Recording">
        <select id="filter-recording" value={current.recordingId} onChange={choose("recordingId")}>
          <option value="">any</option>
          {options(recordings.data, current.recordingId).map((item) => (
            <option key={item.id} value={item.id}>
              {item.name}
            </option>
          ))}
        </select>
      </Field>
      <Field id="filter-suite" label="Suite">
        <select id="filter-suite" value={current.suiteId} onChange={choose("suiteId")}>
          <option value="">any</option>
          {options(suites.data, current.suiteId).map((item) => (
            <option key={item.id} value={item.id}>
              {item.name}
            </option>
          ))}
        </select>
      </Field>
      <Field id="filter-schedule" label="Schedule">
        <select id="filter-schedule" value={current.scheduleId} onChange={choose("scheduleId")}>
          <option value="">any</option>
          {options(schedules.data, current.scheduleId).map((item) => (
            <option key={item.id} value={item.id}>
              {item.name}
            </option>
          ))}
        </select>
      </Field>
      <Field id="filter-suite-run" label="Suite run">
        <input id="filter-suite-run" value={typed.suiteRunId} onChange={type("suiteRunId")} placeholder="srn_…" />
      </Field>
      <Field id="filter-branch" label="CI branch">
        <input id="filter-branch" value={typed.ciBranch} onChange={type("ciBranch")} />
      </Field>
      <Field id="filter-commit" label="CI commit">
        <input id="filter-commit" value={typed.ciCommit} onChange={type("ciCommit")} />
      </Field>
      <div className="filter-buttons">
        <button type="submit">Apply</button>
        {filtered ? (
          <button type="button" className="secondary" onClick={() => navigate("/runs", { replace: true })}>
            Clear filters
          </button>
        ) : null}
      </div>
    </form>
  );
}

function pick(values: Filters, names: readonly Filter[]): Partial<Filters> {
  return Object.fromEntries(names.map((name) => [name, values[name].trim()]));
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
