import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type ChangeEvent, type DragEvent, type FormEvent, useCallback, useRef, useState } from "react";
import {
  api,
  type ImportWarning,
  listAll,
  type Recording,
  type RecordingDetail,
  type RecordingHistory,
  type RecordingResult,
  type RecordingVariable,
  type Run,
} from "../api.ts";
import { Link, navigate, useTitle } from "../router.tsx";
import { ErrorMessage, formatDuration, formatRate } from "../ui.tsx";

/** How many of a recording's latest finished runs the page shows (its sparkline, its rates). */
const HISTORY = 30;
/** The variables editor's element id (one editor at a time). */
const EDITOR_ID = "variables-editor";

/**
 * Recordings with the history of their last 30 runs (a sparkline), their pass and flaky rates and
 * p95; upload by drag and drop; run now; edit the defaults of their variables.
 */
export function Recordings() {
  useTitle("Recordings");
  const client = useQueryClient();
  const recordings = useQuery({
    queryKey: ["recordings"],
    queryFn: () => listAll<Recording>("/api/recordings", 200),
  });
  const [uploaded, setUploaded] = useState<Recording | null>(null);
  /** The recording whose variables are being edited (below the table: a form fits a phone there). */
  const [editing, setEditing] = useState<string | null>(null);
  const editingRecording = recordings.data?.find((recording) => recording.id === editing);
  const upload = useMutation({
    mutationFn: async (file: File) => {
      let body: unknown;
      try {
        body = JSON.parse(await file.text());
      } catch {
        throw new Error(
          `${file.name} is not JSON: export the recording as JSON (Conveyor, SaveAction or Chrome DevTools Recorder format)`,
        );
      }
      return api<Recording>("/api/recordings", { method: "POST", body });
    },
    onSuccess: (recording) => {
      setUploaded(recording);
      void client.invalidateQueries({ queryKey: ["recordings"] });
    },
  });
  const runNow = useMutation({
    // A run started here is one someone will look at: it records a trace, opened from its page.
    mutationFn: (recordingId: string) =>
      api<Run>("/api/runs", { method: "POST", body: { recordingId, options: { trace: true } } }),
    onSuccess: (run) => navigate(`/runs/${run.id}`),
  });

  return (
    <section aria-labelledby="recordings-title">
      <h1 id="recordings-title">Recordings</h1>
      <DropZone onFile={(file) => upload.mutate(file)} busy={upload.isPending} />
      <ErrorMessage error={upload.error} />
      {uploaded ? (
        <div className="notice" role="status">
          Stored <strong>{uploaded.name}</strong> ({uploaded.actionCount} actions, {uploaded.sourceFormat}).
          {uploaded.warnings && uploaded.warnings.length > 0 ? (
            <>
              {" "}
              The importer says:
              <ul>
                {uploaded.warnings.map((warning) => (
                  <li key={`${warning.path ?? warning.index ?? ""}-${warning.message}`}>
                    {warningPlace(warning)}
                    {warning.message}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </div>
      ) : null}
      <ErrorMessage error={recordings.error ?? runNow.error} />
      {recordings.isPending ? <p>Loading…</p> : null}
      {recordings.data && recordings.data.length === 0 ? <p>No recordings yet: drop one above.</p> : null}
      {recordings.data && recordings.data.length > 0 ? (
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Recording</th>
                <th scope="col">Actions</th>
                <th scope="col">Last {HISTORY} (oldest → newest)</th>
                <th scope="col">Pass rate</th>
                <th scope="col">Flaky rate</th>
                <th scope="col">p95</th>
                <th scope="col">
                  <span className="visually-hidden">Run and edit</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {recordings.data.map((recording) => (
                <RecordingRow
                  key={recording.id}
                  recording={recording}
                  onRun={() => runNow.mutate(recording.id)}
                  busy={runNow.isPending}
                  editing={editing === recording.id}
                  onEdit={() => setEditing(editing === recording.id ? null : recording.id)}
                />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {editingRecording ? (
        <VariablesEditor key={editingRecording.id} recording={editingRecording} onClose={() => setEditing(null)} />
      ) : null}
    </section>
  );
}

function RecordingRow({
  recording,
  onRun,
  busy,
  editing,
  onEdit,
}: {
  recording: Recording;
  onRun: () => void;
  busy: boolean;
  editing: boolean;
  onEdit: () => void;
}) {
  const stats = useQuery({
    queryKey: ["recording-stats", recording.id],
    // The last 30 finished runs, read from the runs themselves: current, unlike the daily rollup.
    queryFn: () => api<RecordingHistory>(`/api/recordings/${recording.id}/stats?runs=${HISTORY}`),
    staleTime: 60_000,
  });
  return (
    <tr>
      <td>
        {recording.name}
        {recording.quarantine ? <span className="badge">quarantined</span> : null}
        <div className="muted mono">{recording.id}</div>
        {recording.tags.length > 0 ? <div className="muted small">{recording.tags.join(", ")}</div> : null}
      </td>
      <td>{recording.actionCount}</td>
      <td>{stats.data ? <Sparkline results={stats.data.results ?? []} recordingId={recording.id} /> : "–"}</td>
      <td>{stats.data && stats.data.runs > 0 ? `${formatRate(stats.data.passRate)} of ${stats.data.runs}` : "–"}</td>
      <td>{formatRate(stats.data?.flakyRate)}</td>
      <td>{formatDuration(stats.data?.p95DurationMs)}</td>
      <td>
        <div className="row-buttons">
          <button type="button" onClick={onRun} disabled={busy} aria-label={`Run now: ${recording.name}`}>
            Run now
          </button>
          <button
            type="button"
            className="secondary"
            aria-expanded={editing}
            aria-controls={editing ? EDITOR_ID : undefined}
            aria-label={`Variables: ${recording.name}`}
            onClick={onEdit}
          >
            Variables
          </button>
        </div>
      </td>
    </tr>
  );
}

/** What a sparkline's text alternative says: "last 30: 27 passed, 2 failed, 1 flaky". */
export function describeResults(results: readonly RecordingResult[]): string {
  if (results.length === 0) return "no finished runs yet";
  const counts = new Map<string, number>();
  for (const result of results) {
    const kind = resultKind(result);
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  const parts = (["passed", "failed", "errored", "flaky", "cancelled"] as const)
    .filter((kind) => counts.has(kind))
    .map((kind) => `${counts.get(kind)} ${kind}`);
  return `last ${results.length}: ${parts.join(", ")}`;
}

/** A result as the sparkline shows it: a flaky pass is flaky, not passed. */
function resultKind(result: RecordingResult): "passed" | "failed" | "errored" | "flaky" | "cancelled" {
  return result.status === "passed" && result.flaky ? "flaky" : result.status;
}

/**
 * The last results as bars, oldest on the left: a pass rises from the middle line (a flaky pass
 * only half as high), a failure or error drops below it, a cancelled run is a dot on it, so the
 * shape reads without the colours. The text alternative counts them.
 */
function Sparkline({ results, recordingId }: { results: readonly RecordingResult[]; recordingId: string }) {
  const label = describeResults(results);
  if (results.length === 0) return <span className="muted small">{label}</span>;
  const bar = 6;
  const width = HISTORY * bar;
  // Newest at the right edge, however many there are yet.
  const first = HISTORY - Math.min(results.length, HISTORY);
  return (
    <Link
      to={`/runs?recordingId=${encodeURIComponent(recordingId)}`}
      className="sparkline-link"
      title={`${label} (open these runs)`}
    >
      <svg
        className="sparkline"
        role="img"
        aria-label={label}
        viewBox={`0 0 ${width} 24`}
        width={width}
        height={24}
        data-testid="sparkline"
      >
        <line x1={0} x2={width} y1={12} y2={12} className="spark-axis" />
        {results.map((result, index) => {
          const kind = resultKind(result);
          const x = (first + index) * bar + 1;
          const geometry =
            kind === "passed"
              ? { y: 1, height: 11 }
              : kind === "flaky"
                ? { y: 6, height: 6 }
                : kind === "cancelled"
                  ? { y: 10.5, height: 3 }
                  : { y: 12, height: 11 };
          return (
            <rect key={result.runId} x={x} width={bar - 2} {...geometry} className={`spark-${kind}`} data-kind={kind} />
          );
        })}
      </svg>
    </Link>
  );
}

/**
 * The defaults of a recording's variables, in a form. A sensitive variable's value is never shown
 * (the API does not return it): only whether one is set, with a field to replace it and a box to
 * remove it. Saving sends only what changed (PATCH /api/recordings/:id, with the CSRF token).
 */
function VariablesEditor({ recording, onClose }: { recording: Recording; onClose: () => void }) {
  const client = useQueryClient();
  const detail = useQuery({
    queryKey: ["recording", recording.id],
    queryFn: () => api<RecordingDetail>(`/api/recordings/${recording.id}`),
  });
  const [saved, setSaved] = useState(false);
  const save = useMutation({
    mutationFn: (variables: Record<string, string | null>) =>
      api<Recording>(`/api/recordings/${recording.id}`, { method: "PATCH", body: { variables } }),
    onSuccess: async () => {
      await client.invalidateQueries({ queryKey: ["recording", recording.id] });
      void client.invalidateQueries({ queryKey: ["recordings"] });
      setSaved(true);
    },
  });
  const variables = detail.data?.recording.variables ?? [];
  // Opened from a row of the table above: bring it into view and move focus to it.
  const focusOnOpen = useCallback((heading: HTMLHeadingElement | null) => {
    heading?.focus();
    heading?.scrollIntoView?.({ block: "nearest" });
  }, []);
  return (
    <section className="variables" id={EDITOR_ID} aria-labelledby={`${EDITOR_ID}-title`}>
      <h2 id={`${EDITOR_ID}-title`} tabIndex={-1} ref={focusOnOpen}>
        Variables of {recording.name}
      </h2>
      <ErrorMessage error={detail.error} />
      {detail.isPending ? <p>Loading…</p> : null}
      {detail.data && variables.length === 0 ? (
        <p>This recording declares no variables: there is nothing to set.</p>
      ) : null}
      {detail.data && variables.length > 0 ? (
        <VariablesForm
          // A fresh form after each save: typed secrets are not kept, and defaults are the stored ones.
          key={detail.data.updatedAt}
          recordingId={recording.id}
          variables={variables}
          busy={save.isPending}
          onSave={(changes) => {
            setSaved(false);
            save.mutate(changes);
          }}
        />
      ) : null}
      <ErrorMessage error={save.error} />
      {saved && !save.isPending ? (
        <p role="status" className="notice">
          Saved. Runs started from now on use these defaults.
        </p>
      ) : null}
      <button type="button" className="secondary" onClick={onClose}>
        Close
      </button>
    </section>
  );
}

function VariablesForm({
  recordingId,
  variables,
  busy,
  onSave,
}: {
  recordingId: string;
  variables: RecordingVariable[];
  busy: boolean;
  onSave: (changes: Record<string, string | null>) => void;
}) {
  const initial = Object.fromEntries(
    variables.map((variable) => [variable.name, variable.sensitive ? "" : (variable.default ?? "")]),
  );
  const [values, setValues] = useState<Record<string, string>>(initial);
  const [removed, setRemoved] = useState<Record<string, boolean>>({});
  const [nothing, setNothing] = useState(false);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const changes: Record<string, string | null> = {};
    for (const variable of variables) {
      const value = values[variable.name] ?? "";
      if (variable.sensitive) {
        if (removed[variable.name]) changes[variable.name] = null;
        else if (value !== "") changes[variable.name] = value;
      } else if (value !== (variable.default ?? "")) {
        // An emptied field removes the default (a run then has to give the value).
        changes[variable.name] = value === "" ? null : value;
      }
    }
    setNothing(Object.keys(changes).length === 0);
    if (Object.keys(changes).length > 0) onSave(changes);
  };
  return (
    <form className="variables-form" onSubmit={submit} aria-label="Variable defaults">
      {variables.map((variable) => {
        const id = `var-${recordingId}-${variable.name}`;
        const help = `${id}-help`;
        const set = variable.default !== undefined;
        return (
          <div className="variable" key={variable.name}>
            <label htmlFor={id}>
              <span className="mono">{variable.name}</span>
              {variable.sensitive ? (
                <>
                  {" "}
                  <span className="badge">sensitive</span>
                </>
              ) : null}
            </label>
            {variable.sensitive ? (
              <>
                <input
                  id={id}
                  type="password"
                  autoComplete="new-password"
                  value={values[variable.name] ?? ""}
                  disabled={removed[variable.name] === true}
                  placeholder={set ? "leave empty to keep" : "not set"}
                  aria-describedby={help}
                  onChange={(event) => setValues({ ...values, [variable.name]: event.target.value })}
                />
                <p className="help" id={help} data-testid={`secret-state-${variable.name}`}>
                  {sentence(variable.description)}
                  {set ? "Set (hidden): type a new value to replace it." : "Not set."}
                </p>
                {set ? (
                  <label className="check">
                    <input
                      type="checkbox"
                      checked={removed[variable.name] === true}
                      onChange={(event) => setRemoved({ ...removed, [variable.name]: event.target.checked })}
                    />{" "}
                    Remove the default of {variable.name}
                  </label>
                ) : null}
              </>
            ) : (
              <>
                <input
                  id={id}
                  value={values[variable.name] ?? ""}
                  placeholder="no default"
                  aria-describedby={help}
                  onChange={(event) => setValues({ ...values, [variable.name]: event.target.value })}
                />
                <p className="help" id={help}>
                  {sentence(variable.description)}
                  Empty: no default.
                </p>
              </>
            )}
          </div>
        );
      })}
      <div className="row-buttons">
        <button type="submit" disabled={busy}>
          {busy ? "Saving…" : "Save variables"}
        </button>
      </div>
      {nothing ? <p role="status">Nothing changed.</p> : null}
    </form>
  );
}

/** A recording author's description as a sentence followed by another: "Which page. " */
function sentence(text: string | undefined): string {
  if (!text) return "";
  return /[.!?]$/.test(text.trim()) ? `${text.trim()} ` : `${text.trim()}. `;
}

/** Where an import warning is: "Step 4: " of a Chrome DevTools Recorder export, "Action 4: " of a SaveAction one. */
function warningPlace(warning: ImportWarning): string {
  if (warning.index === undefined) return "";
  return `${warning.path?.startsWith("steps[") ? "Step" : "Action"} ${warning.index + 1}: `;
}

function DropZone({ onFile, busy }: { onFile: (file: File) => void; busy: boolean }) {
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const drop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    const file = event.dataTransfer.files[0];
    if (file) onFile(file);
  };
  const pick = (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    if (file) onFile(file);
    event.target.value = "";
  };
  return (
    <section
      className={`dropzone${over ? " over" : ""}`}
      aria-label="Upload a recording"
      onDragOver={(event) => {
        event.preventDefault();
        setOver(true);
      }}
      onDragLeave={() => setOver(false)}
      onDrop={drop}
    >
      <p>Drop a Conveyor recording, a SaveAction export or a Chrome DevTools Recorder export (JSON) here, or</p>
      <button type="button" onClick={() => input.current?.click()} disabled={busy}>
        {busy ? "Uploading…" : "Choose a file"}
      </button>
      <input
        ref={input}
        type="file"
        accept="application/json,.json"
        className="visually-hidden"
        tabIndex={-1}
        aria-label="Recording file"
        onChange={pick}
      />
    </section>
  );
}
