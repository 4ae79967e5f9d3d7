import { useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useState } from "react";
import { ApiError, api, type Session, setCsrfToken } from "../api.ts";
import { useTitle } from "../router.tsx";

/** Paste an API key (cvk_…) to see its project, or the admin token to sign in as the operator. */
export function SignIn() {
  useTitle("Sign in");
  const client = useQueryClient();
  const [secret, setSecret] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const value = secret.trim();
    try {
      const session = await api<Session>("/api/session", {
        method: "POST",
        body: value.startsWith("cvk_") ? { apiKey: value } : { adminToken: value },
      });
      setCsrfToken(session.csrfToken);
      setSecret("");
      client.setQueryData(["session"], session);
    } catch (caught) {
      setError(
        caught instanceof ApiError && caught.status === 401
          ? "That key or token was not accepted."
          : caught instanceof Error
            ? caught.message
            : String(caught),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="sign-in">
      <h1>Sign in to Conveyor</h1>
      <form onSubmit={submit}>
        <label htmlFor="secret">API key or admin token</label>
        <input
          id="secret"
          type="password"
          autoComplete="off"
          spellCheck={false}
          required
          value={secret}
          onChange={(event) => setSecret(event.target.value)}
          aria-describedby="secret-help"
        />
        <p id="secret-help" className="help">
          A project's API key (<code>cvk_…</code>) shows that project. The admin token signs you in as the operator, who
          sees the queue and the workers. The browser does not keep the key: the API answers with a session cookie that
          ends when you sign out.
        </p>
        {error ? (
          <p role="alert" className="error">
            {error}
          </p>
        ) : null}
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
