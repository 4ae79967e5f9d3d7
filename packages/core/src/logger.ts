import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger };

export interface LoggerOptions {
  /** pino level. */
  level: string;
  /** Bound on every line, e.g. `{ service: "worker", worker: "w-1" }`. */
  base?: Record<string, unknown>;
  /**
   * Human-readable output with this prefix (e.g. "[API]") instead of JSON lines: for the
   * one-process dev start. Default: JSON.
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
    return pino({
      ...common,
      transport: {
        target: "pino-pretty",
        options: {
          messageFormat: `${options.prettyPrefix} {msg}`,
          ignore: "pid,hostname,service",
          translateTime: "SYS:HH:MM:ss.l",
        },
      },
    });
  }
  // stdout is written asynchronously (sonic-boom, off the event loop): a line is written as soon
  // as the previous write finished, and lines logged meanwhile go out together. At enqueue rates
  // a synchronous write per access line was a measurable share of the API's CPU
  // (docs/benchmarks.md). pino flushes what is pending on exit, on the usual signals and on an
  // uncaught exception; only a SIGKILL or a power cut can lose the last few lines.
  return pino(common, options.destination ?? pino.destination({ dest: 1, sync: false }));
}

/** Writes out what `logger` still holds (before a deliberate SIGKILL, say). */
export function flushLoggerSync(logger: Logger): void {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    | { flushSync?: () => void }
    | undefined;
  try {
    stream?.flushSync?.();
  } catch {
    // Nothing pending, or the destination is gone: nothing more to do.
  }
}
