import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { type ChangeEvent, type DragEvent, useRef, useState } from "react";
import { api, type ImportWarning, listAll, type Recording, type RecordingStats, type Run } from "../api.ts";
import { navigate, useTitle } from "../router.tsx";
import { ErrorMessage, formatDuration, formatRate } from "../ui.tsx";

/** Recordings with the pass and flaky rates of their last 30 runs; upload by drag and drop; run now. */
export function Recordings() {
  useTitle("Recordings");
  const client = useQueryClient();
  const recordings = useQuery({
    queryKey: ["recordings"],
    queryFn: () => listAll<Recording>("/api/recordings", 200),
  });
  const [uploaded, setUploaded] = useState<Recording | null>(null);
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
    mutationFn: (recordingId: string) => api<Run>("/api/runs", { method: "POST", body: { recordingId } }),
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
                <th scope="col">Pass rate (last 30)</th>
                <th scope="col">Flaky rate</th>
                <th scope="col">p95</th>
                <th scope="col">
                  <span className="visually-hidden">Run</span>
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
                />
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}

function RecordingRow({ recording, onRun, busy }: { recording: Recording; onRun: () => void; busy: boolean }) {
  const stats = useQuery({
    queryKey: ["recording-stats", recording.id],
    // The last 30 finished runs, read from the runs themselves: current, unlike the daily rollup.
    queryFn: () => api<RecordingStats>(`/api/recordings/${recording.id}/stats?runs=30`),
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
      <td>{stats.data && stats.data.runs > 0 ? `${formatRate(stats.data.passRate)} of ${stats.data.runs}` : "–"}</td>
      <td>{formatRate(stats.data?.flakyRate)}</td>
      <td>{formatDuration(stats.data?.p95DurationMs)}</td>
      <td>
        <button type="button" onClick={onRun} disabled={busy} aria-label={`Run now: ${recording.name}`}>
          Run now
        </button>
      </td>
    </tr>
  );
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
