import { useMutation, useQuery } from "@tanstack/react-query";
import { api, listAll, type Run } from "../api.ts";
import { Link, navigate, useTitle } from "../router.tsx";
import { ErrorMessage, formatTime } from "../ui.tsx";

/** Runs the queue gave up on (infrastructure errors), each with its last error and a retry. */
export function DeadLetters() {
  useTitle("Dead letters");
  const runs = useQuery({ queryKey: ["dead-letters"], queryFn: () => listAll<Run>("/api/dead-letters", 500) });
  const retry = useMutation({
    mutationFn: (id: string) => api<Run>(`/api/runs/${id}/retry`, { method: "POST", body: {} }),
    onSuccess: (created) => navigate(`/runs/${created.id}`),
  });
  return (
    <section aria-labelledby="dead-title">
      <h1 id="dead-title">Dead letters</h1>
      <p className="muted">Runs that ended errored after every attempt hit an infrastructure error.</p>
      <ErrorMessage error={runs.error ?? retry.error} />
      {runs.data && runs.data.length === 0 ? <p>None.</p> : null}
      {runs.data && runs.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Last error</th>
                <th scope="col">Attempts</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="visually-hidden">Retry</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {runs.data.map((run) => (
                <tr key={run.id}>
                  <td>
                    <Link to={`/runs/${run.id}`}>{run.name}</Link>
                    <div className="muted mono">{run.id}</div>
                  </td>
                  <td className="small">{run.error?.message ?? "–"}</td>
                  <td>{run.attempt}</td>
                  <td>{formatTime(run.createdAt)}</td>
                  <td>
                    <button type="button" onClick={() => retry.mutate(run.id)} disabled={retry.isPending}>
                      Retry
                    </button>
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
