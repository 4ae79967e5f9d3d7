import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ApiError, api, type Session, setCsrfToken } from "./api.ts";
import { ChannelDetail, Channels } from "./pages/channels.tsx";
import { DeadLetters } from "./pages/dead-letters.tsx";
import { Keys } from "./pages/keys.tsx";
import { Overview } from "./pages/overview.tsx";
import { Recordings } from "./pages/recordings.tsx";
import { RunDetail } from "./pages/run-detail.tsx";
import { Runs } from "./pages/runs.tsx";
import { ScheduleDetail, Schedules } from "./pages/schedules.tsx";
import { SignIn } from "./pages/sign-in.tsx";
import { SuiteDetail, Suites } from "./pages/suites.tsx";
import { Link, navigate, useLocation } from "./router.tsx";

async function loadSession(): Promise<Session | null> {
  try {
    const session = await api<Session>("/api/session");
    setCsrfToken(session.csrfToken);
    return session;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

const PROJECT_NAV = [
  { to: "/", label: "Overview" },
  { to: "/runs", label: "Runs" },
  { to: "/recordings", label: "Recordings" },
  { to: "/suites", label: "Suites" },
  { to: "/schedules", label: "Schedules" },
  { to: "/channels", label: "Channels" },
  { to: "/dead-letters", label: "Dead letters" },
  { to: "/keys", label: "API keys" },
];
const OPERATOR_NAV = [{ to: "/", label: "Overview" }];

export function App() {
  const client = useQueryClient();
  const session = useQuery({ queryKey: ["session"], queryFn: loadSession, staleTime: 60_000 });
  const signOut = useMutation({
    mutationFn: () => api<void>("/api/session", { method: "DELETE" }),
    onSettled: () => {
      setCsrfToken(null);
      client.clear();
      navigate("/");
    },
  });
  const { path } = useLocation();

  if (session.isPending) return <p className="loading">Loading…</p>;
  if (session.isError) return <p role="alert">The API did not answer: {session.error.message}</p>;
  if (session.data === null) return <SignIn />;
  const me = session.data;
  const nav = me.kind === "operator" ? OPERATOR_NAV : PROJECT_NAV;
  const section = `/${path.split("/")[1] ?? ""}`;
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <span className="brand">Conveyor</span>
        <nav aria-label="Main">
          <ul>
            {nav.map((item) => (
              <li key={item.to}>
                <Link to={item.to} aria-current={section === item.to ? "page" : undefined}>
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <span className="who">{me.kind === "operator" ? "Operator" : me.project?.name}</span>
        <button type="button" className="secondary" onClick={() => signOut.mutate()} disabled={signOut.isPending}>
          Sign out
        </button>
      </header>
      <main id="main">{page(path, me)}</main>
    </>
  );
}

function page(path: string, me: Session) {
  const parts = path.split("/").filter(Boolean);
  if (parts.length === 0) return <Overview session={me} />;
  if (me.kind === "operator") return <NotFound what="page" />;
  if (parts[0] === "runs" && parts.length === 1) return <Runs />;
  if (parts[0] === "runs" && parts[1] && parts.length === 2) return <RunDetail id={decodeURIComponent(parts[1])} />;
  if (parts[0] === "recordings" && parts.length === 1) return <Recordings />;
  if (parts[0] === "suites" && parts.length === 1) return <Suites />;
  if (parts[0] === "suites" && parts[1] && parts.length === 2) return <SuiteDetail id={decodeURIComponent(parts[1])} />;
  if (parts[0] === "schedules" && parts.length === 1) return <Schedules />;
  if (parts[0] === "schedules" && parts[1] && parts.length === 2)
    return <ScheduleDetail id={decodeURIComponent(parts[1])} />;
  if (parts[0] === "channels" && parts.length === 1) return <Channels />;
  if (parts[0] === "channels" && parts[1] && parts.length === 2)
    return <ChannelDetail id={decodeURIComponent(parts[1])} />;
  if (parts[0] === "keys" && parts.length === 1) return <Keys />;
  if (parts[0] === "dead-letters" && parts.length === 1) return <DeadLetters />;
  return <NotFound what="page" />;
}

export function NotFound({ what }: { what: string }) {
  return (
    <section aria-labelledby="not-found">
      <h1 id="not-found">Not found</h1>
      <p>
        This {what} does not exist in this project. <Link to="/">Back to the overview</Link>
      </p>
    </section>
  );
}
