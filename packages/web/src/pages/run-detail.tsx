import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type ActionResult, ApiError, api, type Run, TERMINAL } from "../api.ts";
import { NotFound } from "../app.tsx";
import { POLL_MS, useRunStream } from "../live.ts";
import { Link, navigate, useTitle } from "../router.tsx";
import { ErrorMessage, formatDuration, formatTime, LiveNote, StatusBadge } from "../ui.tsx";

interface AttemptBlock {
  attempt: number;
  status: string;
  worker: string | null;
  durationMs: number | null;
  error: { message: string; actionIndex: number | null } | null;
  artifacts: { video: string | null; trace: string | null };
  actions: ActionResult[];
}

/** Every attempt to show: the ended ones (with their evidence), then the one under way, if any. */
function attemptsOf(run: Run): AttemptBlock[] {
  const blocks: AttemptBlock[] = (run.attempts ?? []).map((a) => ({ ...a }));
  if (!blocks.some((b) => b.attempt === run.attempt) && (run.actions?.length || run.attempt > 0)) {
    blocks.push({
      attempt: run.attempt,
      status: run.status,
      worker: run.worker,
      durationMs: run.durationMs,
      error: run.error,
      artifacts: run.artifacts,
      actions: run.actions ?? [],
    });
  }
  return blocks.reverse();
}

/** A downloaded trace opens with `npx playwright show-trace`. */
const TRACE_HINT = "Open it with: npx playwright show-trace trace.zip";

/**
 * Playwright's trace viewer as the API serves it (/ui/trace/), opening a run's trace.zip: the
 * viewer's service worker fetches the artifact URL with this session, like a download would.
 */
function traceViewerUrl(artifact: string): string {
  return `/ui/trace/?trace=${encodeURIComponent(new URL(artifact, window.location.origin).href)}`;
}

/** "Open trace" (in a new tab, the viewer is a page of its own) and "Download trace". */
function TraceLinks({ url, label }: { url: string; label: string }) {
  return (
    <>
      <a className="button" href={traceViewerUrl(url)} target="_blank" rel="noopener">
        Open {label}
      </a>
      <a className="button secondary" href={url} download="trace.zip" title={TRACE_HINT}>
        Download {label}
      </a>
    </>
  );
}

export function RunDetail({ id }: { id: string }) {
  const client = useQueryClient();
  const key = ["run", id];
  const run = useQuery({
    queryKey: key,
    queryFn: () => api<Run>(`/api/runs/${encodeURIComponent(id)}`),
    refetchInterval: (q) => {
      const data = q.state.data;
      return data && TERMINAL.includes(data.status) ? false : POLL_MS;
    },
  });
  const finished = run.data ? TERMINAL.includes(run.data.status) : false;
  const { live } = useRunStream(id, run.isSuccess && !finished);
  useTitle(run.data ? `${run.data.name} (${run.data.status})` : "Run");
  const cancel = useMutation({
    mutationFn: () => api<Run>(`/api/runs/${encodeURIComponent(id)}/cancel`, { method: "POST" }),
    onSuccess: () => client.invalidateQueries({ queryKey: key }),
  });
  const retry = useMutation({
    mutationFn: () => api<Run>(`/api/runs/${encodeURIComponent(id)}/retry`, { method: "POST", body: {} }),
    onSuccess: (created) => navigate(`/runs/${created.id}`),
  });

  if (run.error instanceof ApiError && run.error.status === 404) return <NotFound what="run" />;
  if (run.isPending) return <p>Loading…</p>;
  if (run.isError) return <ErrorMessage error={run.error} />;
  const r = run.data;
  return (
    <article aria-labelledby="run-title">
      <p>
        <Link to="/runs">← Runs</Link>
      </p>
      <div className="title-row">
        <h1 id="run-title">{r.name}</h1>
        {finished ? null : <LiveNote live={live} />}
      </div>
      <dl className="facts">
        <div>
          <dt>Status</dt>
          <dd aria-live="polite" data-testid="run-status">
            <StatusBadge status={r.status} />
            {r.flaky ? <span className="badge badge-flaky">flaky</span> : null}
          </dd>
        </div>
        <div>
          <dt>Run id</dt>
          <dd className="mono">{r.id}</dd>
        </div>
        <div>
          <dt>Attempt</dt>
          <dd>
            {r.attempt} of {r.maxAttempts}
          </dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{formatDuration(r.durationMs)}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatTime(r.createdAt)}</dd>
        </div>
        {r.ci?.branch || r.ci?.commit ? (
          <div>
            <dt>CI</dt>
            <dd className="mono">{[r.ci.branch, r.ci.commit?.slice(0, 12)].filter(Boolean).join(" @ ")}</dd>
          </div>
        ) : null}
      </dl>
      <div className="actions-row">
        {finished ? null : (
          <button type="button" className="danger" onClick={() => cancel.mutate()} disabled={cancel.isPending}>
            Cancel run
          </button>
        )}
        {finished ? (
          <button type="button" onClick={() => retry.mutate()} disabled={retry.isPending}>
            Retry as a new run
          </button>
        ) : null}
        {r.artifacts.trace ? <TraceLinks url={r.artifacts.trace} label="trace" /> : null}
      </div>
      <ErrorMessage error={cancel.error ?? retry.error} />
      {r.error ? (
        <div className="failure" role="note">
          <strong>{r.error.actionIndex !== null ? `Action ${r.error.actionIndex + 1} failed: ` : "Error: "}</strong>
          {r.error.message}
        </div>
      ) : null}
      {attemptsOf(r).map((attempt) => (
        <AttemptSection key={attempt.attempt} attempt={attempt} />
      ))}
    </article>
  );
}

function AttemptSection({ attempt }: { attempt: AttemptBlock }) {
  const longest = Math.max(1, ...attempt.actions.map((a) => a.durationMs ?? 0));
  return (
    <section className="attempt" aria-labelledby={`attempt-${attempt.attempt}`}>
      <h2 id={`attempt-${attempt.attempt}`}>
        Attempt {attempt.attempt} <StatusBadge status={attempt.status} />
        <span className="muted">
          {" "}
          {formatDuration(attempt.durationMs)}
          {attempt.worker ? ` on ${attempt.worker}` : ""}
        </span>
      </h2>
      {attempt.actions.length === 0 ? <p className="muted">No action has run yet.</p> : null}
      <ol className="timeline">
        {attempt.actions.map((action) => (
          <li key={action.index} className={`step step-${action.status}`}>
            <div className="step-head">
              <span className="step-index">{action.index + 1}</span>
              <span className="step-type">{action.type}</span>
              <StatusBadge status={action.status} />
              <span className="step-duration">{formatDuration(action.durationMs)}</span>
            </div>
            <div className="bar" aria-hidden="true">
              <span style={{ width: `${Math.max(1, ((action.durationMs ?? 0) / longest) * 100)}%` }} />
            </div>
            {action.selectorUsed ? (
              <div className="mono small">
                selector: <code>{action.selectorUsed}</code>
              </div>
            ) : null}
            {action.selectorsTried && action.selectorsTried.length > 0 ? (
              <div className="mono small">
                tried: <code>{action.selectorsTried.join(" | ")}</code>
              </div>
            ) : null}
            {action.pageUrl ? <div className="mono small muted">{action.pageUrl}</div> : null}
            {action.error ? (
              <p className="error small" data-testid="action-error">
                {action.error.message}
              </p>
            ) : null}
            {action.screenshotUrl ? (
              <a href={action.screenshotUrl} target="_blank" rel="noreferrer">
                <img
                  className="shot"
                  src={action.screenshotUrl}
                  alt={`The page ${action.status === "failed" ? "when" : "after"} action ${action.index + 1} (${action.type}) ${action.status === "failed" ? "failed" : "ran"}`}
                  loading="lazy"
                />
              </a>
            ) : null}
          </li>
        ))}
      </ol>
      {attempt.artifacts.video ? (
        <figure>
          {/* biome-ignore lint/a11y/useMediaCaption: a silent screen recording has no speech to caption. */}
          <video controls preload="metadata" src={attempt.artifacts.video} className="video" />
          <figcaption>Video of attempt {attempt.attempt}</figcaption>
        </figure>
      ) : null}
      {attempt.artifacts.trace ? (
        <div className="actions-row">
          <TraceLinks url={attempt.artifacts.trace} label={`the trace of attempt ${attempt.attempt}`} />
        </div>
      ) : null}
    </section>
  );
}
