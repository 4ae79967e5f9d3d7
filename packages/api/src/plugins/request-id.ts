import type { IncomingMessage } from "node:http";
import type { FastifyServerOptions } from "fastify";

/**
 * Request ids are always the server's own (`req_…`): a client-sent id could collide with another
 * request's, or forge log lines that seem to belong to someone else's request. What a client sends
 * as `X-Request-Id` is kept, cleaned, as `clientRequestId` on the request's log lines, so a caller
 * can still find its requests in the logs.
 */

/** Longest client request id kept on log lines, characters; the rest is cut. */
export const CLIENT_REQUEST_ID_MAX_LENGTH = 128;

/** A fresh id for every request. */
export function generateRequestId(): string {
  return `req_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
}

/**
 * The client's `X-Request-Id`, printable ASCII only (control characters and anything else are
 * dropped, so it cannot break a log line) and at most CLIENT_REQUEST_ID_MAX_LENGTH characters;
 * undefined when absent or nothing printable is left.
 */
export function clientRequestId(raw: IncomingMessage): string | undefined {
  const header = raw.headers["x-request-id"];
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const printable = value
    .replace(/[^\x20-\x7e]/g, "")
    .trim()
    .slice(0, CLIENT_REQUEST_ID_MAX_LENGTH);
  return printable === "" ? undefined : printable;
}

/** Fastify's `childLoggerFactory` (its type is not exported on its own). */
type ChildLoggerFactory = NonNullable<FastifyServerOptions["childLoggerFactory"]>;

/** Fastify's request logger, with the client's request id beside the server's `reqId`. */
export const requestChildLogger: ChildLoggerFactory = (logger, bindings, options, raw) => {
  const fromClient = clientRequestId(raw);
  return logger.child(fromClient === undefined ? bindings : { ...bindings, clientRequestId: fromClient }, options);
};
