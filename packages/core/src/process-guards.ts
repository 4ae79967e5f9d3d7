import type { Logger } from "./logger.ts";

/**
 * postgres.js 3.4.9 leaves some of its own promises unhandled when Postgres drops a connection
 * (e.g. the ROLLBACK it issues for a transaction whose connection just died; porsager/postgres
 * #1186, #1216). The query the application awaited is rejected properly and handled (retried or
 * failed by the worker); the driver's leftover rejection carries no information, and Node's
 * default would kill the process over it. This lets exactly those rejections through as a
 * warning; any other unhandled rejection still crashes the process, as it should. (Two worse
 * driver bugs, an uncaught TypeError and an unhandled rejection whose stack names no driver
 * frame, are fixed at the source: patches/postgres@3.4.9.patch.)
 */
const CONNECTION_LOST_CODES = new Set([
  "57P01", // terminating connection due to administrator command
  "57P02", // crash shutdown
  "57P03", // cannot connect now
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "ECONNRESET",
  "EPIPE",
]);

export function isDriverConnectionLoss(reason: unknown): boolean {
  if (typeof reason !== "object" || reason === null) return false;
  const { code, stack } = reason as { code?: unknown; stack?: unknown };
  return (
    typeof code === "string" &&
    CONNECTION_LOST_CODES.has(code) &&
    typeof stack === "string" &&
    /node_modules[\\/](?:\.pnpm[\\/][^\\/]+[\\/]node_modules[\\/])?postgres[\\/]/.test(stack)
  );
}

export function installProcessGuards(logger: Logger): void {
  process.on("unhandledRejection", (reason) => {
    if (isDriverConnectionLoss(reason)) {
      logger.warn(
        { err: reason },
        "database connection lost under a driver promise nobody awaited (postgres.js); continuing",
      );
      return;
    }
    logger.fatal({ err: reason }, "unhandled promise rejection");
    // Give the log line a moment to flush, then fail like Node would.
    setTimeout(() => process.exit(1), 100).unref();
  });
}
