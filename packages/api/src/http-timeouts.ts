/**
 * The HTTP server's timeouts, so that a slow or silent client cannot hold a connection: Node's
 * own defaults leave an idle socket open forever, and Fastify turns the request timeout off.
 */

/** The HTTP_*_TIMEOUT_MS settings of the API's server. */
export interface HttpTimeouts {
  /** HTTP_REQUEST_TIMEOUT_MS: longest a client may take to send a whole request (headers and body), ms. Default 30000. */
  requestMs: number;
  /** HTTP_HEADERS_TIMEOUT_MS: longest a client may take to send the headers, ms; at most `requestMs`. Default 10000. */
  headersMs: number;
  /** HTTP_KEEP_ALIVE_TIMEOUT_MS: how long an idle keep-alive connection waits for the next request, ms. Default 5000. */
  keepAliveMs: number;
  /** HTTP_CONNECTION_TIMEOUT_MS: a connection on which nothing moves this long is closed, ms; 0: never. Default 60000. */
  connectionMs: number;
}

/** The env defaults, also what `buildApp` applies when given none. */
export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = {
  requestMs: 30_000,
  headersMs: 10_000,
  keepAliveMs: 5000,
  connectionMs: 60_000,
};

/**
 * How often Node looks for connections past their headers or request timeout, ms. Its default,
 * 30 s, would let a 10 s headers timeout fire up to 40 s late; the sweep walks the open
 * connections in C++, so once a second costs next to nothing.
 */
const MAX_CHECK_INTERVAL_MS = 1000;

/** Fastify's server options for these timeouts. */
export function httpTimeoutOptions(timeouts: HttpTimeouts) {
  return {
    requestTimeout: timeouts.requestMs,
    keepAliveTimeout: timeouts.keepAliveMs,
    connectionTimeout: timeouts.connectionMs,
    // Node's server options: Fastify sets the request timeout after creating the server, but the
    // headers timeout and the sweep interval can only be given to `http.createServer` (which
    // refuses a headers timeout above the request timeout it was given, so both go here).
    http: {
      requestTimeout: timeouts.requestMs,
      headersTimeout: timeouts.headersMs,
      connectionsCheckingInterval: Math.min(MAX_CHECK_INTERVAL_MS, Math.max(100, Math.floor(timeouts.headersMs / 2))),
    },
  };
}
