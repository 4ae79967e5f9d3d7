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
  /** Where JSON lines go (e.g. a test capturing them). Default: stdout. Ignored with `prettyPrefix`. */
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
  return options.destination ? pino(common, options.destination) : pino(common);
}
