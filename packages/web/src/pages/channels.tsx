import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import {
  type AlertRule,
  ApiError,
  api,
  type Channel,
  type Delivery,
  listAll,
  type MaintenanceWindow,
  type Page,
  query,
} from "../api.ts";
import { NotFound } from "../app.tsx";
import { POLL_MS } from "../live.ts";
import { Link, useTitle } from "../router.tsx";
import { ErrorMessage, formatDuration, formatTime, StatusBadge } from "../ui.tsx";

/** Deliveries a page of a channel's list shows. */
const DELIVERIES_PAGE = 20;

const TYPE_LABEL: Record<Channel["type"], string> = { webhook: "Webhook", slack: "Slack", email: "Email" };

function useChannels() {
  return useQuery({ queryKey: ["channels"], queryFn: () => listAll<Channel>("/api/channels", 500) });
}

function ChannelState({ channel }: { channel: Channel }) {
  return (
    <>
      <StatusBadge status={channel.enabled ? "enabled" : "disabled"} />
      {channel.disabledReason ? <div className="muted small">{channel.disabledReason}</div> : null}
      {channel.enabled && channel.failingSince ? (
        <div className="muted small">failing since {formatTime(channel.failingSince)}</div>
      ) : null}
    </>
  );
}

/**
 * Where notifications go (channels, each target without its secrets: the API never answers them),
 * which events go there (alert rules), and when they are silenced (maintenance windows).
 */
export function Channels() {
  useTitle("Channels");
  const channels = useChannels();
  const rules = useQuery({ queryKey: ["alert-rules"], queryFn: () => listAll<AlertRule>("/api/alert-rules", 500) });
  const windows = useQuery({
    queryKey: ["maintenance-windows"],
    queryFn: () => listAll<MaintenanceWindow>("/api/maintenance-windows", 500),
  });
  const channelNames = new Map((channels.data ?? []).map((channel) => [channel.id, channel.name]));
  return (
    <section aria-labelledby="channels-title">
      <h1 id="channels-title">Notification channels</h1>
      <p className="muted">
        Where alerts go. A channel's URL and signing secret are stored encrypted and never shown again; only where it
        sends is.
      </p>
      <ErrorMessage error={channels.error} />
      {channels.isPending ? <p>Loading…</p> : null}
      {channels.data && channels.data.length === 0 ? (
        <p>
          No channels yet: create one with <code>POST /api/channels</code>.
        </p>
      ) : null}
      {channels.data && channels.data.length > 0 ? (
        <div className="table-wrap">
          <table aria-label="Channels">
            <thead>
              <tr>
                <th scope="col">Channel</th>
                <th scope="col">Type</th>
                <th scope="col">Sends to</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {channels.data.map((channel) => (
                <tr key={channel.id}>
                  <td>
                    <Link to={`/channels/${channel.id}`}>{channel.name}</Link>
                    <div className="muted mono">{channel.id}</div>
                  </td>
                  <td>{TYPE_LABEL[channel.type]}</td>
                  <td className="mono">{channel.target}</td>
                  <td>
                    <ChannelState channel={channel} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}

      <h2 id="alert-rules">Alert rules</h2>
      <ErrorMessage error={rules.error} />
      {rules.data && rules.data.length === 0 ? (
        <p>
          None: create one with <code>POST /api/alert-rules</code>.
        </p>
      ) : null}
      {rules.data && rules.data.length > 0 ? (
        <div className="table-wrap">
          <table aria-labelledby="alert-rules">
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Covers</th>
                <th scope="col">Events</th>
                <th scope="col">When</th>
                <th scope="col">Channels</th>
              </tr>
            </thead>
            <tbody>
              {rules.data.map((rule) => (
                <tr key={rule.id}>
                  <td>
                    {rule.name}
                    {rule.enabled ? null : <span className="badge">disabled</span>}
                    <div className="muted mono">{rule.id}</div>
                  </td>
                  <td>
                    {rule.scope}
                    {rule.scopeValue ? <div className="muted mono small">{rule.scopeValue}</div> : null}
                  </td>
                  <td className="small">{rule.events.join(", ")}</td>
                  <td className="small">
                    after {rule.afterConsecutiveFailures} failure{rule.afterConsecutiveFailures === 1 ? "" : "s"} in a
                    row
                    {rule.remindEveryHours ? `; reminds every ${rule.remindEveryHours} h` : ""}
                  </td>
                  <td className="small">
                    {rule.channelIds.map((id, i) => (
                      <span key={id}>
                        {i > 0 ? ", " : ""}
                        <Link to={`/channels/${id}`}>{channelNames.get(id) ?? id}</Link>
                      </span>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}

      <h2 id="maintenance-windows">Maintenance windows</h2>
      <ErrorMessage error={windows.error} />
      {windows.data && windows.data.length === 0 ? (
        <p>
          None: create one with <code>POST /api/maintenance-windows</code>.
        </p>
      ) : null}
      {windows.data && windows.data.length > 0 ? (
        <div className="table-wrap">
          <table aria-labelledby="maintenance-windows">
            <thead>
              <tr>
                <th scope="col">Window</th>
                <th scope="col">Covers</th>
                <th scope="col">Mode</th>
                <th scope="col">From</th>
                <th scope="col">Until</th>
              </tr>
            </thead>
            <tbody>
              {windows.data.map((maintenance) => (
                <tr key={maintenance.id}>
                  <td>
                    {maintenance.reason ?? <span className="muted">no reason given</span>}{" "}
                    {maintenance.active ? <span className="badge badge-active">active</span> : null}
                    <div className="muted mono">{maintenance.id}</div>
                  </td>
                  <td>
                    {maintenance.scope}
                    {maintenance.scopeValue ? <div className="muted mono small">{maintenance.scopeValue}</div> : null}
                  </td>
                  <td>{maintenance.mode === "pause" ? "pause (alerts and schedules)" : "silence (alerts)"}</td>
                  <td>{formatTime(maintenance.startsAt)}</td>
                  <td>{formatTime(maintenance.endsAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

/** A channel, "Send test", and its recent deliveries with every attempt. */
export function ChannelDetail({ id }: { id: string }) {
  const client = useQueryClient();
  const path = `/api/channels/${encodeURIComponent(id)}`;
  const channel = useQuery({ queryKey: ["channel", id], queryFn: () => api<Channel>(path) });
  const deliveries = useInfiniteQuery({
    queryKey: ["deliveries", id],
    queryFn: ({ pageParam }) =>
      api<Page<Delivery>>(`${path}/deliveries${query({ limit: DELIVERIES_PAGE, cursor: pageParam })}`),
    initialPageParam: null as string | null,
    getNextPageParam: (last) => last.nextCursor,
    enabled: channel.isSuccess,
    // Quickly while one is still being sent; alerts may add new ones at any time.
    refetchInterval: (q) =>
      q.state.data?.pages.some((page) => page.items.some((d) => d.status === "pending")) ? POLL_MS : POLL_MS * 5,
  });
  const sendTest = useMutation({
    mutationFn: () => api<Delivery>(`${path}/test`, { method: "POST" }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["deliveries", id] }),
  });
  const enable = useMutation({
    mutationFn: () => api<Channel>(`${path}/enable`, { method: "POST" }),
    onSuccess: (updated) => {
      client.setQueryData(["channel", id], updated);
      void client.invalidateQueries({ queryKey: ["channels"] });
    },
  });
  useTitle(channel.data ? `Channel ${channel.data.name}` : "Channel");

  if (channel.error instanceof ApiError && channel.error.status === 404) return <NotFound what="channel" />;
  if (channel.isPending) return <p>Loading…</p>;
  if (channel.isError) return <ErrorMessage error={channel.error} />;
  const c = channel.data;
  const items = deliveries.data?.pages.flatMap((page) => page.items) ?? [];
  return (
    <article aria-labelledby="channel-title">
      <p>
        <Link to="/channels">← Channels</Link>
      </p>
      <h1 id="channel-title">{c.name}</h1>
      <dl className="facts">
        <div>
          <dt>State</dt>
          <dd>
            <ChannelState channel={c} />
          </dd>
        </div>
        <div>
          <dt>Channel id</dt>
          <dd className="mono">{c.id}</dd>
        </div>
        <div>
          <dt>Type</dt>
          <dd>{TYPE_LABEL[c.type]}</dd>
        </div>
        <div>
          <dt>Sends to</dt>
          <dd className="mono">{c.target}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{formatTime(c.createdAt)}</dd>
        </div>
      </dl>
      <div className="actions-row">
        {c.enabled ? (
          <button type="button" onClick={() => sendTest.mutate()} disabled={sendTest.isPending}>
            Send test
          </button>
        ) : (
          <button type="button" onClick={() => enable.mutate()} disabled={enable.isPending}>
            Enable
          </button>
        )}
      </div>
      <ErrorMessage error={sendTest.error ?? enable.error} />
      {sendTest.data ? (
        <p className="notice" role="status">
          Test notification queued: delivery <span className="mono">{sendTest.data.id}</span>.
        </p>
      ) : null}

      <h2 id="deliveries">Recent deliveries</h2>
      <ErrorMessage error={deliveries.error} />
      {deliveries.isSuccess && items.length === 0 ? <p>No deliveries yet.</p> : null}
      {items.length > 0 ? (
        <div className="table-wrap">
          <table aria-labelledby="deliveries">
            <thead>
              <tr>
                <th scope="col">Delivery</th>
                <th scope="col">Status</th>
                <th scope="col">Latest answer</th>
                <th scope="col">Attempts</th>
              </tr>
            </thead>
            <tbody>
              {items.map((delivery) => (
                <tr key={delivery.id} data-testid="delivery">
                  <td>
                    {delivery.type}
                    <div className="muted mono">{delivery.id}</div>
                    <div className="muted small">{formatTime(delivery.createdAt)}</div>
                  </td>
                  <td>
                    <StatusBadge status={delivery.status} />
                    {delivery.status === "pending" && delivery.nextAttemptAt ? (
                      <div className="muted small">next attempt {formatTime(delivery.nextAttemptAt)}</div>
                    ) : null}
                  </td>
                  <td className="small">
                    {delivery.responseStatus !== null ? `HTTP ${delivery.responseStatus}` : null}
                    {delivery.lastError && delivery.lastError !== `HTTP ${delivery.responseStatus}` ? (
                      <div>{delivery.lastError}</div>
                    ) : null}
                    {delivery.responseStatus === null && !delivery.lastError ? "–" : null}
                  </td>
                  <td>
                    <Attempts delivery={delivery} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {deliveries.hasNextPage ? (
        <button type="button" className="secondary" onClick={() => deliveries.fetchNextPage()}>
          Load more
        </button>
      ) : null}
    </article>
  );
}

function Attempts({ delivery }: { delivery: Delivery }) {
  if (delivery.attemptLog.length === 0) return <>{delivery.attempts}</>;
  return (
    <details>
      <summary>
        {delivery.attempts} attempt{delivery.attempts === 1 ? "" : "s"}
      </summary>
      <ol className="attempt-log">
        {delivery.attemptLog.map((attempt) => (
          <li key={attempt.attempt}>
            {formatTime(attempt.at)}: {attempt.responseStatus !== null ? `HTTP ${attempt.responseStatus}` : ""}
            {attempt.error && attempt.error !== `HTTP ${attempt.responseStatus}` ? ` ${attempt.error}` : ""}
            {attempt.responseStatus === null && !attempt.error ? "no answer" : ""}{" "}
            <span className="muted">({formatDuration(attempt.durationMs)})</span>
          </li>
        ))}
      </ol>
    </details>
  );
}
