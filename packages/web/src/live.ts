import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import type { Run, RunStatus } from "./api.ts";

/**
 * Live updates from the API's Server-Sent Events (GET /api/runs/:id/stream, GET /api/stream).
 * EventSource sends the session cookie and resumes with Last-Event-ID by itself. While a stream is
 * not open (not connected yet, refused, or an API without streams) `live` is false and the pages
 * poll every 2 s instead.
 */

export interface RunEvent {
  id: number;
  runId: string;
  type: string;
  attempt: number;
  status: RunStatus;
}

export const POLL_MS = 2000;

/** Follows one run: each event patches its status at once and refetches its detail. */
export function useRunStream(runId: string, enabled: boolean): { live: boolean } {
  const client = useQueryClient();
  const [live, setLive] = useState(false);
  useEffect(() => {
    if (!enabled || typeof EventSource === "undefined") return;
    const source = new EventSource(`/api/runs/${encodeURIComponent(runId)}/stream`);
    const key = ["run", runId];
    source.onopen = () => setLive(true);
    source.addEventListener("snapshot", (message) => {
      client.setQueryData(key, JSON.parse((message as MessageEvent).data) as Run);
    });
    source.addEventListener("run-event", (message) => {
      const event = JSON.parse((message as MessageEvent).data) as RunEvent;
      client.setQueryData<Run>(key, (run) => (run ? { ...run, status: event.status } : run));
      void client.invalidateQueries({ queryKey: key });
    });
    source.addEventListener("end", () => {
      source.close();
      setLive(false);
      void client.invalidateQueries({ queryKey: key });
    });
    source.onerror = () => {
      // CLOSED: refused (404, 401, 429) or not an event stream; the page polls instead.
      if (source.readyState === EventSource.CLOSED) setLive(false);
    };
    return () => {
      source.close();
      setLive(false);
    };
  }, [runId, enabled, client]);
  return { live };
}

/** Follows the project's runs: any event refetches the queries under `prefix` (at most every 500 ms). */
export function useProjectStream(params: string, prefix: unknown[]): { live: boolean } {
  const client = useQueryClient();
  const [live, setLive] = useState(false);
  const prefixRef = useRef(prefix);
  prefixRef.current = prefix;
  useEffect(() => {
    if (typeof EventSource === "undefined") return;
    const source = new EventSource(`/api/stream${params}`);
    let timer: ReturnType<typeof setTimeout> | null = null;
    source.onopen = () => setLive(true);
    source.addEventListener("run-event", () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        void client.invalidateQueries({ queryKey: prefixRef.current });
      }, 500);
    });
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) setLive(false);
    };
    return () => {
      if (timer) clearTimeout(timer);
      source.close();
      setLive(false);
    };
  }, [params, client]);
  return { live };
}
