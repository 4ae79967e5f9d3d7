import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import {
  ApiError,
  api,
  type FireOutcome,
  listAll,
  type Page,
  query,
  type Recording,
  type Schedule,
  type ScheduleFire,
  type Suite,
} from "../api.ts";
import { NotFound } from "../app.tsx";
import { POLL_MS } from "../live.ts";
import { Link, useTitle } from "../router.tsx";
import { ErrorMessage, formatTime, StatusBadge } from "../ui.tsx";

/** Fire log entries a page of the log shows. */
const FIRES_PAGE = 25;
/** A fire acted on later than this after its time says when, ms. */
const LATE_MS = 1000;

/** What became of a scheduled time, in words (the API's `outcome` is in the badge's title). */
const OUTCOME_LABEL: Record<FireOutcome, string> = {
  started: "started",
  skipped_overlap: "skipped: overlap",
  skipped_paused: "skipped: paused",
  buffered: "buffered",
  missed: "missed",
  failed: "failed",
};

/** "every 2 s", "every 5 min", "every 3 h", "every 2 d" (the largest whole unit). */
function formatInterval(seconds: number): string {
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3600],
    ["min", 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `every ${seconds / size} ${unit}`;
  }
  return `every ${seconds} s`;
}

/** "in 42 s", "in 5 min", "in 3 h", "in 2 d"; "now" when due or past. */
function formatFromNow(iso: string, now: number = Date.now()): string {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  if (seconds <= 0) return "now";
  if (seconds < 60) return `in ${seconds} s`;
  if (seconds < 3600) return `in ${Math.round(seconds / 60)} min`;
  if (seconds < 86_400) return `in ${Math.round(seconds / 3600)} h`;
  return `in ${Math.round(seconds / 86_400)} d`;
}

/** A time in the schedule's own time zone, as its cron expression reads it. */
function formatInZone(iso: string, timeZone: string): string {
  return new Date(iso).toLocaleString(undefined, { timeZone, dateStyle: "medium", timeStyle: "short" });
}

function Timing({ schedule }: { schedule: Schedule }) {
  if (schedule.cron !== null) {
    return (
      <>
        <code>{schedule.cron}</code>
        <div className="muted small">{schedule.timezone}</div>
      </>
    );
  }
  return <>{formatInterval(schedule.everySeconds ?? 0)}</>;
}

function Target({ schedule, names }: { schedule: Schedule; names: Map<string, string> }) {
  if (schedule.suiteId) {
    return (
      <>
        Suite <Link to={`/suites/${schedule.suiteId}`}>{names.get(schedule.suiteId) ?? schedule.suiteId}</Link>
      </>
    );
  }
  const recordingId = schedule.recordingId ?? "";
  return <>Recording {names.get(recordingId) ?? <span className="mono">{recordingId}</span>}</>;
}

/** Names of the project's recordings and suites, by id: what schedules run. */
function useTargetNames(enabled: boolean): Map<string, string> {
  // The same queries as the Recordings and Suites pages.
  const recordings = useQuery({
    queryKey: ["recordings"],
    queryFn: () => listAll<Recording>("/api/recordings", 200),
    enabled,
  });
  const suites = useQuery({ queryKey: ["suites"], queryFn: () => listAll<Suite>("/api/suites", 500), enabled });
  return new Map([...(recordings.data ?? []), ...(suites.data ?? [])].map((item) => [item.id, item.name]));
}

function NextFire({ schedule }: { schedule: Schedule }) {
  const now = Date.now();
  // The first still ahead: the list is as old as the last read.
  const next = schedule.next.find((at) => Date.parse(at) > now);
  if (!next) return <span className="muted">none: it has ended</span>;
  return (
    <>
      <time dateTime={next}>{formatTime(next)}</time>
      <div className="muted small">{schedule.paused ? "if resumed" : formatFromNow(next, now)}</div>
    </>
  );
}

/** The project's schedules: timing, target, paused or not, next scheduled time. */
export function Schedules() {
  useTitle("Schedules");
  const schedules = useQuery({
    queryKey: ["schedules"],
    queryFn: () => listAll<Schedule>("/api/schedules", 500),
    // Next times move on as they pass.
    refetchInterval: POLL_MS * 2,
  });
  const names = useTargetNames(Boolean(schedules.data?.length));
  return (
    <section aria-labelledby="schedules-title">
      <h1 id="schedules-title">Schedules</h1>
      <p className="muted">Recordings and suites run on a cron expression or a fixed interval.</p>
      <ErrorMessage error={schedules.error} />
      {schedules.isPending ? <p>Loading…</p> : null}
      {schedules.data && schedules.data.length === 0 ? (
        <p>
          No schedules yet: create one with <code>POST /api/schedules</code>.
        </p>
      ) : null}
      {schedules.data && schedules.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Schedule</th>
                <th scope="col">When</th>
                <th scope="col">Runs</th>
                <th scope="col">State</th>
                <th scope="col">Next time</th>
              </tr>
            </thead>
            <tbody>
              {schedules.data.map((schedule) => (
                <tr key={schedule.id}>
                  <td>
                    <Link to={`/schedules/${schedule.id}`}>{schedule.name}</Link>
                    <div className="muted mono">{schedule.id}</div>
                  </td>
                  <td>
                    <Timing schedule={schedule} />
                  </td>
                  <td>
                    <Target schedule={schedule} names={names} />
                  </td>
                  <td>
                    <StatusBadge status={schedule.paused ? "paused" : "active"} />
                    {schedule.paused && schedule.pauseReason ? (
                      <div className="muted small">{schedule.pauseReason}</div>
                    ) : null}
                  </td>
                  <td>
                    <NextFire schedule={schedule} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

/** A schedule: its settings, its next times, pause / resume / trigger, and its fire log. */
export function ScheduleDetail({ id }: { id: string }) {
  const client = useQueryClient();
  const path = `/api/schedules/${encodeURIComponent(id)}`;
  const schedule = useQuery({
    queryKey: ["schedule", id],
    queryFn: () => api<Schedule>(path),
    // Its next times move on as they pass.
    refetchInterval: POLL_MS,
  });
  const names = useTargetNames(schedule.isSuccess);
  const [reason, setReason] = useState("");
  const refresh = (updated: Schedule) => {
    client.setQueryData(["schedule", id], updated);
    void client.invalidateQueries({ queryKey: ["schedules"] });
    void client.invalidateQueries({ queryKey: ["schedule-fires", id] });
  };
  const pause = useMutation({
    mutationFn: () =>
      api<Schedule>(`${path}/pause`, { method: "POST", body: reason.trim() ? { reason: reason.trim() } : {} }),
    onSuccess: (updated) => {
      setReason("");
      refresh(updated);
    },
  });
  const resume = useMutation({
    mutationFn: () => api<Schedule>(`${path}/resume`, { method: "POST" }),
    onSuccess: refresh,
  });
  const trigger = useMutation({
    mutationFn: () => api<{ fire: ScheduleFire }>(`${path}/trigger`, { method: "POST" }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["schedule-fires", id] }),
  });
  useTitle(schedule.data ? `Schedule ${schedule.data.name}` : "Schedule");

  if (schedule.error instanceof ApiError && schedule.error.status === 404) return <NotFound what="schedule" />;
  if (schedule.isPending) return <p>Loading…</p>;
  if (schedule.isError) return <ErrorMessage error={schedule.error} />;
  const s = schedule.data;
  const now = Date.now();
  // Those still ahead: the list is as old as the last read.
  const next = s.next.filter((at) => Date.parse(at) > now);
  const submitPause = (event: FormEvent) => {
    event.preventDefault();
    pause.mutate();
  };
  return (
    <article aria-labelledby="schedule-title">
      <p>
        <Link to="/schedules">← Schedules</Link>
      </p>
      <h1 id="schedule-title">{s.name}</h1>
      <dl className="facts">
        <div>
          <dt>State</dt>
          <dd aria-live="polite" data-testid="schedule-state">
            <StatusBadge status={s.paused ? "paused" : "active"} />
            {s.paused ? <span className="small">{s.pauseReason}</span> : null}
          </dd>
        </div>
        <div>
          <dt>Schedule id</dt>
          <dd className="mono">{s.id}</dd>
        </div>
        <div>
          <dt>When</dt>
          <dd>
            <Timing schedule={s} />
          </dd>
        </div>
        <div>
          <dt>Runs</dt>
          <dd>
            <Target schedule={s} names={names} />
          </dd>
        </div>
        <div>
          <dt>Overlap</dt>
          <dd>{s.overlap.replace("_", " ")}</dd>
        </div>
        {s.catchUpWindowSeconds ? (
          <div>
            <dt>Catch-up window</dt>
            <dd>{s.catchUpWindowSeconds} s</dd>
          </div>
        ) : null}
        {s.jitterSeconds ? (
          <div>
            <dt>Jitter</dt>
            <dd>up to {s.jitterSeconds} s</dd>
          </div>
        ) : null}
        {s.pauseAfterFailures ? (
          <div>
            <dt>Pauses after</dt>
            <dd>{s.pauseAfterFailures} failed fires in a row</dd>
          </div>
        ) : null}
        {s.startAt ? (
          <div>
            <dt>From</dt>
            <dd>{formatTime(s.startAt)}</dd>
          </div>
        ) : null}
        {s.endAt ? (
          <div>
            <dt>Until</dt>
            <dd>{formatTime(s.endAt)}</dd>
          </div>
        ) : null}
      </dl>

      <div className="actions-row">
        {s.paused ? (
          <button type="button" onClick={() => resume.mutate()} disabled={resume.isPending}>
            Resume
          </button>
        ) : (
          <form className="filters" onSubmit={submitPause} aria-label="Pause the schedule">
            <div className="field">
              <label htmlFor="pause-reason">Reason (optional)</label>
              <input
                id="pause-reason"
                value={reason}
                onChange={(event) => setReason(event.target.value)}
                maxLength={500}
                placeholder="paused by a user"
              />
            </div>
            <button type="submit" className="secondary" disabled={pause.isPending}>
              Pause
            </button>
          </form>
        )}
        <button type="button" onClick={() => trigger.mutate()} disabled={trigger.isPending}>
          Run now
        </button>
      </div>
      <p className="help">
        Paused, its times are logged as skipped with the reason; resumed, it goes on from now. Run now fires it once at
        once, paused or not.
      </p>
      <ErrorMessage error={pause.error ?? resume.error ?? trigger.error} />

      <h2 id="next-times">Next times</h2>
      {next.length === 0 ? (
        <p>None: the schedule has ended.</p>
      ) : (
        <ol aria-labelledby="next-times">
          {next.map((at) => (
            <li key={at}>
              <time dateTime={at}>{formatTime(at)}</time>{" "}
              <span className="muted small">
                {s.cron !== null ? `${formatInZone(at, s.timezone)} ${s.timezone}, ` : ""}
                {formatFromNow(at, now)}
                {s.paused ? " if resumed" : ""}
              </span>
            </li>
          ))}
        </ol>
      )}

      <FireLog scheduleId={s.id} />
    </article>
  );
}

/** What became of each scheduled time (and each trigger), newest first, with the reason. */
function FireLog({ scheduleId }: { scheduleId: string }) {
  const fires = useInfiniteQuery({
    queryKey: ["schedule-fires", scheduleId],
    queryFn: ({ pageParam }) =>
      api<Page<ScheduleFire>>(
        `/api/schedules/${encodeURIComponent(scheduleId)}/fires${query({ limit: FIRES_PAGE, cursor: pageParam })}`,
      ),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    refetchInterval: POLL_MS,
  });
  const items = fires.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <section aria-labelledby="fire-log">
      <h2 id="fire-log">Fire log</h2>
      <ErrorMessage error={fires.error} />
      {fires.isSuccess && items.length === 0 ? <p>No fires yet.</p> : null}
      {items.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Scheduled for</th>
                <th scope="col">Outcome</th>
                <th scope="col">Started</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {items.map((fire) => (
                <tr key={`${fire.scheduledAt}-${fire.manual}`} data-testid="fire">
                  <td>
                    <time dateTime={fire.scheduledAt}>{formatTime(fire.scheduledAt)}</time>
                    {Date.parse(fire.firedAt) - Date.parse(fire.scheduledAt) > LATE_MS ? (
                      <div className="muted small">acted on {formatTime(fire.firedAt)}</div>
                    ) : null}
                  </td>
                  <td>
                    <span className={`badge badge-${fire.outcome}`} title={fire.outcome}>
                      {OUTCOME_LABEL[fire.outcome]}
                    </span>
                    {fire.manual ? <span className="badge">manual</span> : null}
                  </td>
                  <td>
                    {fire.runId ? (
                      <Link to={`/runs/${fire.runId}`}>
                        <span className="mono">{fire.runId}</span>
                      </Link>
                    ) : fire.suiteRunId ? (
                      <Link
                        to={`/runs${query({ suiteRunId: fire.suiteRunId })}`}
                        aria-label={`Runs of suite run ${fire.suiteRunId}`}
                      >
                        <span className="mono">{fire.suiteRunId}</span>
                      </Link>
                    ) : (
                      <span className="muted">nothing</span>
                    )}
                  </td>
                  <td className="small">{fire.reason ?? "–"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {fires.hasNextPage ? (
        <button type="button" className="secondary" onClick={() => fires.fetchNextPage()}>
          Load more
        </button>
      ) : null}
    </section>
  );
}
