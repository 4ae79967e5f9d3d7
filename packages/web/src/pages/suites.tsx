import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { ApiError, api, listAll, type Page, query, type Recording, type Suite, type SuiteRun } from "../api.ts";
import { NotFound } from "../app.tsx";
import { POLL_MS, useProjectStream } from "../live.ts";
import { Link, useTitle } from "../router.tsx";
import { ErrorMessage, formatDuration, formatTime, LiveNote, StatusBadge } from "../ui.tsx";

/** Suite runs a page shows: the latest ones (GET /api/suite-runs, newest first). */
const RECENT_SUITE_RUNS = 20;

function recentSuiteRuns(suiteId?: string) {
  return api<Page<SuiteRun>>(`/api/suite-runs${query({ suiteId, limit: RECENT_SUITE_RUNS })}`);
}

/** "all of a, b; any of c; none of d": which recordings a suite's tag query selects. */
function describeTags(tagQuery: Suite["tagQuery"]): string | null {
  if (!tagQuery) return null;
  const parts = [
    tagQuery.all?.length ? `all of ${tagQuery.all.join(", ")}` : null,
    tagQuery.any?.length ? `any of ${tagQuery.any.join(", ")}` : null,
    tagQuery.none?.length ? `none of ${tagQuery.none.join(", ")}` : null,
  ].filter(Boolean);
  return parts.length ? `tagged ${parts.join("; ")}` : null;
}

function membership(suite: Suite): string {
  const count = suite.recordingIds.length;
  const explicit = count ? `${count} recording${count === 1 ? "" : "s"}` : null;
  return [explicit, describeTags(suite.tagQuery)].filter(Boolean).join(" + ");
}

/** The project's suites, and its latest suite runs. */
export function Suites() {
  useTitle("Suites");
  const suites = useQuery({ queryKey: ["suites"], queryFn: () => listAll<Suite>("/api/suites", 500) });
  return (
    <section aria-labelledby="suites-title">
      <h1 id="suites-title">Suites</h1>
      <p className="muted">Named groups of recordings run together; each suite run starts one run per recording.</p>
      <ErrorMessage error={suites.error} />
      {suites.isPending ? <p>Loading…</p> : null}
      {suites.data && suites.data.length === 0 ? (
        <p>
          No suites yet: create one with <code>POST /api/suites</code>.
        </p>
      ) : null}
      {suites.data && suites.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Suite</th>
                <th scope="col">Recordings</th>
                <th scope="col">Max parallel</th>
                <th scope="col">Fail fast</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {suites.data.map((suite) => (
                <tr key={suite.id}>
                  <td>
                    <Link to={`/suites/${suite.id}`}>{suite.name}</Link>
                    <div className="muted mono">{suite.id}</div>
                  </td>
                  <td>{membership(suite)}</td>
                  <td>{suite.maxParallel ?? "no limit"}</td>
                  <td>{suite.failFast ? "yes" : "no"}</td>
                  <td>{formatTime(suite.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <SuiteRuns headingId="latest-suite-runs" heading="Latest suite runs" />
    </section>
  );
}

/** A suite: its definition, "Run suite", and its latest suite runs. */
export function SuiteDetail({ id }: { id: string }) {
  const client = useQueryClient();
  const suite = useQuery({
    queryKey: ["suite", id],
    queryFn: () => api<Suite>(`/api/suites/${encodeURIComponent(id)}`),
  });
  // The same query as the Recordings page: names for the suite's recording ids.
  const recordings = useQuery({
    queryKey: ["recordings"],
    queryFn: () => listAll<Recording>("/api/recordings", 200),
    enabled: suite.isSuccess,
  });
  const [started, setStarted] = useState<SuiteRun | null>(null);
  const run = useMutation({
    mutationFn: () => api<SuiteRun>(`/api/suites/${encodeURIComponent(id)}/runs`, { method: "POST", body: {} }),
    onSuccess: (suiteRun) => {
      setStarted(suiteRun);
      void client.invalidateQueries({ queryKey: ["suite-runs"] });
    },
  });
  useTitle(suite.data ? `Suite ${suite.data.name}` : "Suite");

  if (suite.error instanceof ApiError && suite.error.status === 404) return <NotFound what="suite" />;
  if (suite.isPending) return <p>Loading…</p>;
  if (suite.isError) return <ErrorMessage error={suite.error} />;
  const s = suite.data;
  const names = new Map((recordings.data ?? []).map((r) => [r.id, r.name]));
  return (
    <article aria-labelledby="suite-title">
      <p>
        <Link to="/suites">← Suites</Link>
      </p>
      <h1 id="suite-title">{s.name}</h1>
      <dl className="facts">
        <div>
          <dt>Suite id</dt>
          <dd className="mono">{s.id}</dd>
        </div>
        <div>
          <dt>Recordings</dt>
          <dd>{membership(s)}</dd>
        </div>
        <div>
          <dt>Max parallel</dt>
          <dd>{s.maxParallel ?? "no limit"}</dd>
        </div>
        <div>
          <dt>Fail fast</dt>
          <dd>{s.failFast ? "yes: a failed run cancels those not started" : "no"}</dd>
        </div>
        {s.defaults.retries !== undefined ? (
          <div>
            <dt>Retries</dt>
            <dd>{s.defaults.retries}</dd>
          </div>
        ) : null}
        {s.defaults.timeoutMs !== undefined ? (
          <div>
            <dt>Run timeout</dt>
            <dd>{formatDuration(s.defaults.timeoutMs)}</dd>
          </div>
        ) : null}
        {s.defaults.variables?.length ? (
          <div>
            <dt>Variables</dt>
            <dd className="mono">{s.defaults.variables.join(", ")}</dd>
          </div>
        ) : null}
      </dl>
      {s.recordingIds.length > 0 ? (
        <>
          <h2 id="suite-recordings">Recordings, in order</h2>
          <ol aria-labelledby="suite-recordings">
            {s.recordingIds.map((recordingId) => (
              <li key={recordingId}>
                {names.get(recordingId) ?? <span className="muted">(deleted)</span>}{" "}
                <span className="muted mono small">{recordingId}</span>
              </li>
            ))}
          </ol>
        </>
      ) : null}
      <div className="actions-row">
        <button type="button" onClick={() => run.mutate()} disabled={run.isPending}>
          {run.isPending ? "Starting…" : "Run suite"}
        </button>
      </div>
      <ErrorMessage error={run.error} />
      {started ? (
        <div className="notice" role="status">
          Started suite run <span className="mono">{started.id}</span> ({started.total} run
          {started.total === 1 ? "" : "s"}). <Link to={`/runs${query({ suiteRunId: started.id })}`}>See its runs</Link>
        </div>
      ) : null}
      <SuiteRuns suiteId={s.id} headingId="suite-runs" heading="Latest suite runs" />
    </article>
  );
}

/** The latest suite runs (of one suite, or of all), kept current by the project's stream. */
function SuiteRuns({ suiteId, headingId, heading }: { suiteId?: string; headingId: string; heading: string }) {
  const key = ["suite-runs", suiteId ?? "all"];
  // A suite run's status is its runs': every run event may change one.
  const { live } = useProjectStream("", key);
  const runs = useQuery({
    queryKey: key,
    queryFn: () => recentSuiteRuns(suiteId),
    refetchInterval: live ? false : POLL_MS,
  });
  return (
    <section aria-labelledby={headingId}>
      <div className="title-row">
        <h2 id={headingId}>{heading}</h2>
        <LiveNote live={live} />
      </div>
      <ErrorMessage error={runs.error} />
      {runs.data && runs.data.items.length === 0 ? <p>No suite runs yet.</p> : null}
      {runs.data && runs.data.items.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Suite run</th>
                {suiteId ? null : <th scope="col">Suite</th>}
                <th scope="col">Status</th>
                <th scope="col">Runs</th>
                <th scope="col">Started</th>
              </tr>
            </thead>
            <tbody>
              {runs.data.items.map((suiteRun) => (
                <tr key={suiteRun.id} data-testid="suite-run">
                  <td>
                    <Link
                      to={`/runs${query({ suiteRunId: suiteRun.id })}`}
                      aria-label={`Runs of suite run ${suiteRun.id}`}
                    >
                      <span className="mono">{suiteRun.id}</span>
                    </Link>
                    {suiteRun.ci?.branch || suiteRun.ci?.commit ? (
                      <div className="muted mono small">
                        {[suiteRun.ci.branch, suiteRun.ci.commit?.slice(0, 12)].filter(Boolean).join(" @ ")}
                      </div>
                    ) : null}
                  </td>
                  {suiteId ? null : (
                    <td>
                      {suiteRun.suiteId ? (
                        <Link to={`/suites/${suiteRun.suiteId}`}>{suiteRun.suiteName}</Link>
                      ) : (
                        suiteRun.suiteName
                      )}
                    </td>
                  )}
                  <td>
                    <StatusBadge status={suiteRun.status} />
                    {suiteRun.failedFastAt ? <span className="badge">failed fast</span> : null}
                  </td>
                  <td>
                    <SuiteRunCounts suiteRun={suiteRun} />
                  </td>
                  <td>{formatTime(suiteRun.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function SuiteRunCounts({ suiteRun }: { suiteRun: SuiteRun }) {
  const { counts } = suiteRun;
  const rest = [
    counts.failed ? `${counts.failed} failed` : null,
    counts.errored ? `${counts.errored} errored` : null,
    counts.cancelled ? `${counts.cancelled} cancelled` : null,
    counts.running ? `${counts.running} running` : null,
    counts.queued ? `${counts.queued} queued` : null,
    counts.flaky ? `${counts.flaky} flaky` : null,
  ].filter(Boolean);
  return (
    <>
      {counts.passed}/{suiteRun.total} passed
      {rest.length ? <div className="muted small">{rest.join(", ")}</div> : null}
    </>
  );
}
