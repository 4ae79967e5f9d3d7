/**
 * Outbound HTTP requests to a destination a tenant chose (webhook targets, later features'
 * callbacks), under the same egress policy as the browser: the URL's scheme and host are checked,
 * the name is resolved here, every address checked, and the connection made to exactly the
 * checked address (TLS still verifies the certificate against the name). Redirects are not
 * followed: a 3xx is returned as it is, so a redirect cannot lead anywhere unchecked.
 */
import http from "node:http";
import https from "node:https";
import { checkUrl, type EgressPolicy, stripCredentials } from "@conveyor/core";
import { connectErrorCode, type LookupAll, resolveTarget, systemLookup } from "./resolve.ts";

export interface EgressRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Whole request budget (connect, send, first byte, body), ms. Default 10000. */
  timeoutMs?: number;
  /** Bytes of the response body kept; the rest is read and dropped. Default 1024. */
  maxResponseBytes?: number;
  /** The policy to apply. Required. */
  policy: EgressPolicy;
  /** Resolver. Default: the system's. */
  lookup?: LookupAll;
  /** Extra TLS options (tests: a CA). Default: none. */
  tls?: https.RequestOptions;
}

export interface EgressResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The first `maxResponseBytes` of the body. */
  body: Buffer;
  /** Whether the body was longer than what was kept. */
  truncated: boolean;
}

/** The policy refused the destination; nothing was sent. */
export class EgressBlockedError extends Error {
  readonly code = "blocked_by_policy";
  readonly url: string;
  readonly rule: string;
  constructor(url: string, rule: string) {
    super(`Blocked by the egress policy: ${url} (${rule})`);
    this.url = url;
    this.rule = rule;
    this.name = "EgressBlockedError";
  }
}

/** The destination is allowed but did not answer (DNS, connect, timeout, reset). */
export class EgressUnreachableError extends Error {
  readonly url: string;
  readonly reason: string;
  constructor(url: string, reason: string) {
    super(`Could not reach ${url}: ${reason}`);
    this.url = url;
    this.reason = reason;
    this.name = "EgressUnreachableError";
  }
}

/** Sends one request under `options.policy`; throws EgressBlockedError or EgressUnreachableError. */
export async function egressRequest(rawUrl: string, options: EgressRequestOptions): Promise<EgressResponse> {
  const check = checkUrl(options.policy, rawUrl);
  if (!check.allowed) throw new EgressBlockedError(check.url, check.rule);
  const url = new URL(rawUrl);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new EgressBlockedError(check.url, `scheme ${url.protocol} is not allowed (only http: and https:)`);
  }
  const shown = stripCredentials(url);
  const secure = url.protocol === "https:";
  const port = url.port === "" ? (secure ? 443 : 80) : Number(url.port);
  const target = await resolveTarget(options.policy, url.hostname, port, options.lookup ?? systemLookup);
  if (!target.ok) {
    if (target.kind === "blocked") throw new EgressBlockedError(shown, target.rule);
    throw new EgressUnreachableError(shown, target.code);
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxResponseBytes ?? 1024;
  const headers: Record<string, string> = { ...(options.headers ?? {}), host: url.host };
  if (url.username || url.password) {
    headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`;
  }
  return new Promise<EgressResponse>((resolve, reject) => {
    const request = (secure ? https : http).request({
      ...(secure ? (options.tls ?? {}) : {}),
      host: target.address,
      family: target.family,
      port,
      method: options.method ?? "GET",
      path: `${url.pathname}${url.search}`,
      headers,
      setHost: false,
      agent: false,
      // TLS: SNI and the certificate check use the name, not the address connected to.
      ...(secure ? { servername: target.host.startsWith("[") ? undefined : target.host } : {}),
    });
    const timer = setTimeout(() => {
      request.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: "ETIMEDOUT" }));
    }, timeoutMs);
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      let truncated = false;
      response.on("data", (chunk: Buffer) => {
        if (kept >= maxBytes) {
          truncated = true;
          return;
        }
        const part = chunk.subarray(0, maxBytes - kept);
        if (part.length < chunk.length) truncated = true;
        chunks.push(part);
        kept += part.length;
      });
      response.on("end", () => {
        clearTimeout(timer);
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks),
          truncated,
        });
      });
      response.on("error", (error) => {
        clearTimeout(timer);
        reject(new EgressUnreachableError(shown, connectErrorCode(error)));
      });
    });
    request.on("error", (error) => {
      clearTimeout(timer);
      reject(new EgressUnreachableError(shown, connectErrorCode(error)));
    });
    request.end(options.body);
  });
}
