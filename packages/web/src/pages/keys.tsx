import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { type ApiKeyView, api, listAll } from "../api.ts";
import { useTitle } from "../router.tsx";
import { ErrorMessage, formatTime, StatusBadge } from "../ui.tsx";

/** The project's API keys: create one (its secret shown once), revoke one. */
export function Keys() {
  useTitle("API keys");
  const client = useQueryClient();
  const keys = useQuery({ queryKey: ["keys"], queryFn: () => listAll<ApiKeyView>("/api/keys", 500) });
  const [name, setName] = useState("");
  const [secret, setSecret] = useState<string | null>(null);
  const create = useMutation({
    mutationFn: () => api<{ key: ApiKeyView; secret: string }>("/api/keys", { method: "POST", body: { name } }),
    onSuccess: (made) => {
      setSecret(made.secret);
      setName("");
      void client.invalidateQueries({ queryKey: ["keys"] });
    },
  });
  const revoke = useMutation({
    mutationFn: (id: string) => api<unknown>(`/api/keys/${id}`, { method: "DELETE" }),
    onSuccess: () => client.invalidateQueries({ queryKey: ["keys"] }),
  });
  const submit = (event: FormEvent) => {
    event.preventDefault();
    create.mutate();
  };
  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">API keys</h1>
      <form className="filters" onSubmit={submit}>
        <div className="field">
          <label htmlFor="key-name">Name of a new key (every scope)</label>
          <input
            id="key-name"
            value={name}
            onChange={(event) => setName(event.target.value)}
            required
            maxLength={100}
          />
        </div>
        <button type="submit" disabled={create.isPending}>
          Create key
        </button>
      </form>
      {secret ? (
        <div className="notice" role="status">
          Copy the new key now; it is not shown again: <code className="secret">{secret}</code>
        </div>
      ) : null}
      <ErrorMessage error={create.error ?? revoke.error ?? keys.error} />
      {keys.data ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Status</th>
                <th scope="col">Scopes</th>
                <th scope="col">Last used</th>
                <th scope="col">
                  <span className="visually-hidden">Revoke</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.map((key) => (
                <tr key={key.id}>
                  <td>
                    {key.name}
                    <div className="muted mono">{key.prefix}…</div>
                  </td>
                  <td>
                    <StatusBadge status={key.status} />
                  </td>
                  <td className="small">{key.scopes.join(", ")}</td>
                  <td>{formatTime(key.lastUsedAt)}</td>
                  <td>
                    {key.status === "active" ? (
                      <button
                        type="button"
                        className="danger"
                        onClick={() => {
                          if (window.confirm(`Revoke ${key.name}? Anything using it stops working at once.`))
                            revoke.mutate(key.id);
                        }}
                      >
                        Revoke
                      </button>
                    ) : null}
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
