/** HTTP load with autocannon, reduced to the numbers the tables need. */
import autocannon from "autocannon";

export interface LoadOptions {
  url: string;
  method?: "GET" | "POST";
  /** Concurrent connections. */
  connections: number;
  /** Seconds. */
  duration: number;
  headers?: Record<string, string>;
  /** Request body; `[<id>]` anywhere in the request (body or headers) becomes a fresh id. */
  body?: string;
}

export interface LoadResult {
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses with a status other than 2xx, and socket errors/timeouts. */
  non2xx: number;
  errors: number;
  total: number;
}

export async function load(options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    method: options.method ?? "GET",
    connections: options.connections,
    duration: options.duration,
    headers: options.headers ?? {},
    ...(options.body === undefined ? {} : { body: options.body }),
    idReplacement: true,
  });
  return {
    requestsPerSec: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    total: result.requests.total,
  };
}
