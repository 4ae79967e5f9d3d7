import { type DestinationStream, type Logger, pino } from "pino";
import { PinoPretty } from "pino-pretty";

export type { Logger };

export interface LoggerOptions {
  /** pino level. */
  level: string;
  /** Bound on every line, e.g. `{ service: "worker", worker: "w-1" }`. */
  base?: Record<string, unknown>;
  /**
   * Human-readable lines (pino-pretty) starting with this prefix (e.g. "[api]") instead of JSON
   * lines: for `pnpm start` on a terminal, where several services share one output. Written
   * synchronously on this thread (a person reads them; nothing is lost on exit). Default: JSON.
   */
  prettyPrefix?: string;
  /**
   * Where JSON lines go (e.g. a test capturing them). Default: stdout, written asynchronously
   * (below). Ignored with `prettyPrefix`.
   */
  destination?: DestinationStream;
}

/** Paths redacted from every log line: credentials and run variables must never be logged. */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "apiKey",
  "*.apiKey",
  "variables",
  "*.variables",
  "password",
  "*.password",
];

export function createLogger(options: LoggerOptions): Logger {
  const common = {
    level: options.level,
    base: options.base ?? {},
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.prettyPrefix) {
    const prefix = options.prettyPrefix;
    return pino(
      common,
      PinoPretty({
        destination: 1,
        sync: true,
        translateTime: "SYS:HH:MM:ss.l",
        // The prefix says which service (and the quick start has one worker): no need to repeat it.
        ignore: "pid,hostname,service,worker",
        // The prefix goes first on the line, so interleaved services read as columns.
        customPrettifiers: { time: (time) => `${prefix} ${String(time)}` },
      }),
    );
  }
  // stdout is written asynchronously (sonic-boom, off the event loop): a line is written as soon
  // as the previous write finished, and lines logged meanwhile go out together. At enqueue rates
  // a synchronous write per access line was a measurable share of the API's CPU
  // (docs/benchmarks.md). pino flushes what is pending on exit, on the usual signals and on an
  // uncaught exception; only a SIGKILL or a power cut can lose the last few lines.
  return pino(common, options.destination ?? pino.destination({ dest: 1, sync: false }));
}

interface SonicBoomLike {
  flushSync?: () => void;
  /** sonic-boom: an asynchronous write is in flight (its bytes are with the thread pool). */
  _writing?: boolean;
}

/**
 * Writes out what `logger` still holds, including a write already in flight, before a deliberate
 * SIGKILL (a test fail point, say). `flushSync` alone is not enough: a line logged while stdout
 * was idle is handed to the thread pool at once, `flushSync` has nothing left to write, and a
 * kill right after can beat the thread pool's `write(2)`. So this waits (up to `timeoutMs`) until
 * no write is in flight (in order: the in-flight write chains the queued ones), then writes
 * whatever is still queued synchronously.
 */
export async function flushLogger(logger: Logger, timeoutMs = 2_000): Promise<void> {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as SonicBoomLike | undefined;
  const deadline = Date.now() + timeoutMs;
  while (stream?._writing && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 5));
  try {
    stream?.flushSync?.();
  } catch {
    // Nothing pending, or the destination is gone: nothing more to do.
  }
}
