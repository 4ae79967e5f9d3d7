/**
 * The worker's forward proxy: every request a run's browser makes goes through it, so the egress
 * policy is enforced where the connection is made. Chromium is launched with `--proxy-server`
 * (and `<-loopback>`, so loopback is proxied too), and each browser context gets a session of its
 * own: a listener on a port of 127.0.0.1 whose connections carry that run's policy. For every
 * plain-HTTP request and every tunnel (HTTPS, WebSocket) the proxy resolves the name itself,
 * checks every address it resolves to, and connects to exactly the address it checked — so a
 * redirect, an `<img>`, a `fetch`, an iframe, a WebSocket, a service worker or a popup is checked
 * the same way as the page, and DNS rebinding cannot move a connection after the check.
 *
 * A refused request never reaches its destination: whether a denied port is open is never
 * observable. Plain-HTTP refusals are answered 403 (blocked) or 502 (unreachable) with a
 * `x-conveyor-egress-refusal` header naming the refusal, and tunnels with the same status before
 * the tunnel opens (Chromium reports `ERR_TUNNEL_CONNECTION_FAILED`); either way the session keeps
 * the refusal, which is how the runner tells a blocked navigation from a failing site.
 */
import { randomBytes } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import net, { type Socket } from "node:net";
import {
  cidrContains,
  type EgressEntry,
  type EgressPolicy,
  embeddedIpv4,
  type IpAddress,
  parseCidr,
  parseIp,
  stripCredentials,
} from "@conveyor/core";
import { connectErrorCode, type LookupAll, type ResolvedTarget, resolveTarget, systemLookup } from "./resolve.ts";

/** A request the proxy did not let through. */
export interface EgressRefusal {
  /** Unique within the proxy; sent to the browser in `x-conveyor-egress-refusal`. */
  id: string;
  /** `blocked`: the policy refused it; `unreachable`: allowed, but the destination did not answer. */
  kind: "blocked" | "unreachable";
  /** What was requested, without credentials: the URL (plain HTTP) or `host:port` (a tunnel: HTTPS, WebSocket). */
  url: string;
  host: string;
  port: number;
  /** For `blocked`: the rule that refused it, e.g. `loopback (127.0.0.0/8) address`. */
  rule?: string;
  /** For `unreachable`: Chromium's name of the error, e.g. `ERR_CONNECTION_REFUSED`. */
  code?: string;
}

/** Refusals of a session since the last `takeRefusals()`. */
export interface RefusalSummary {
  /** How many requests were refused. */
  count: number;
  /** The first few, in order (at most {@link REFUSALS_KEPT_PER_TAKE}). */
  first: EgressRefusal[];
}

/** How many refusals `takeRefusals()` returns in full; the rest are counted. */
export const REFUSALS_KEPT_PER_TAKE = 10;
/** How many recent refusals a session remembers for `refusal(id)` and `latestRefusalFor`. */
const RECENT_REFUSALS = 100;

export const REFUSAL_HEADER = "x-conveyor-egress-refusal";

export interface EgressProxyOptions {
  /**
   * The operator's policy (EGRESS_*): what `session.bind()` without a policy applies, and whose
   * always-denied hostnames (e.g. `postgres`, `redis`) the proxy resolves, so their addresses are
   * denied too. Required.
   */
  policy: EgressPolicy;
  /** Resolver (every address of a name). Default: the system resolver (`dns.lookup`). */
  lookup?: LookupAll;
  /** How long connecting to a destination may take, ms. Default 15000. */
  connectTimeoutMs?: number;
  /** How often the always-denied hostnames are resolved again, ms. Default 60000. */
  denyRefreshMs?: number;
  /** Told about problems that don't change a decision (a deny hostname that does not resolve). Default: silent. */
  logger?: { warn(obj: Record<string, unknown>, msg: string): void };
}

/** Headers that belong to one hop (RFC 9110 §7.6.1), plus the proxy's own. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "upgrade",
  REFUSAL_HEADER,
]);

function withoutHopByHop(raw: readonly string[]): string[] {
  const named = new Set(HOP_BY_HOP);
  // Connection: names further headers that are hop-by-hop.
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] ?? "").toLowerCase() === "connection") {
      for (const token of (raw[i + 1] ?? "").split(",")) named.add(token.trim().toLowerCase());
    }
  }
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? "";
    if (!named.has(name.toLowerCase())) out.push(name, raw[i + 1] ?? "");
  }
  return out;
}

const LOCAL_BLOCKS = ["127.0.0.0/8", "0.0.0.0/8", "::1/128", "::/128"].map((text) => {
  const cidr = parseCidr(text);
  if (!cidr) throw new Error(`bad block ${text}`);
  return cidr;
});

/** Whether a connection to `ip` would land on this machine's loopback (where the proxy listens). */
function isLocal(ip: IpAddress): boolean {
  const v4 = embeddedIpv4(ip) ?? ip;
  return LOCAL_BLOCKS.some((block) => cidrContains(block, v4) || cidrContains(block, ip));
}

export class EgressProxy {
  readonly #options: EgressProxyOptions;
  readonly #lookup: LookupAll;
  readonly #server: http.Server;
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  readonly #sessions = new Set<EgressSession>();
  readonly #sessionOf = new WeakMap<Socket, EgressSession>();
  #resolvedDeny: EgressEntry[] = [];
  #denyTimer: NodeJS.Timeout | undefined;
  #browserSession: EgressSession | undefined;
  #closed = false;

  private constructor(options: EgressProxyOptions) {
    this.#options = options;
    this.#lookup = options.lookup ?? systemLookup;
    // Never listens itself: each session's listener hands it its connections.
    this.#server = http.createServer({ keepAliveTimeout: 30_000 });
    this.#server.on("request", (req, res) => {
      this.#onRequest(req, res).catch(() => res.destroy());
    });
    this.#server.on("connect", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.#onConnect(req, socket, head).catch(() => socket.destroy());
    });
    // WebSockets reach a proxy as CONNECT; an Upgrade request in absolute form is not something
    // Chromium sends, and is not forwarded.
    this.#server.on("upgrade", (_req: IncomingMessage, socket: Socket) => {
      socket.end("HTTP/1.1 501 Not Implemented\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    });
    this.#server.on("clientError", (_error, socket) => socket.destroy());
  }

  /** Starts the proxy: its browser-wide listener, and the resolution of always-denied hostnames. */
  static async start(options: EgressProxyOptions): Promise<EgressProxy> {
    const proxy = new EgressProxy(options);
    await proxy.#refreshDeny();
    const refreshMs = options.denyRefreshMs ?? 60_000;
    proxy.#denyTimer = setInterval(() => void proxy.#refreshDeny(), refreshMs);
    proxy.#denyTimer.unref();
    // Requests that belong to no run (the browser's own, a context opened without a session)
    // arrive here and are refused: this session is never bound.
    proxy.#browserSession = await proxy.openSession();
    return proxy;
  }

  /** The operator's policy this proxy was started with. */
  get policy(): EgressPolicy {
    return this.#options.policy;
  }

  /** The proxy for the browser as a whole (`--proxy-server`); it refuses everything. */
  get browserProxyUrl(): string {
    if (!this.#browserSession) throw new Error("EgressProxy is not started");
    return this.#browserSession.server;
  }

  /** A listener of its own for one browser context; bind the run's policy to it before use. */
  async openSession(): Promise<EgressSession> {
    if (this.#closed) throw new Error("EgressProxy is closed");
    const session = new EgressSession(this, this.#sessions);
    await session.listen((socket) => {
      this.#sessionOf.set(socket, session);
      this.#server.emit("connection", socket);
    });
    return session;
  }

  /** Closes every session and connection. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#denyTimer);
    await Promise.all([...this.#sessions].map((session) => session.close()));
    this.#agent.destroy();
  }

  /** The policy `session` applies, with the addresses of always-denied hostnames added. */
  effectivePolicy(policy: EgressPolicy): EgressPolicy {
    return this.#resolvedDeny.length === 0 ? policy : { ...policy, deny: [...policy.deny, ...this.#resolvedDeny] };
  }

  /** Whether `port` on loopback is one of this proxy's own listeners (never a destination). */
  isOwnListener(address: string, port: number): boolean {
    const ip = parseIp(address);
    if (ip === null || !isLocal(ip)) return false;
    for (const session of this.#sessions) if (session.port === port) return true;
    return false;
  }

  async resolve(policy: EgressPolicy, host: string, port: number): Promise<ResolvedTarget> {
    const target = await resolveTarget(this.effectivePolicy(policy), host, port, this.#lookup);
    if (target.ok && this.isOwnListener(target.address, port)) {
      return { ok: false, kind: "blocked", host: target.host, port, rule: "the egress proxy itself" };
    }
    return target;
  }

  /** Resolves the hostnames of the always-denied list; their addresses are denied on the same ports. */
  async #refreshDeny(): Promise<void> {
    const resolved: EgressEntry[] = [];
    for (const entry of this.#options.policy.deny) {
      if (entry.host === undefined || entry.host.startsWith("*.")) continue;
      try {
        for (const answer of await this.#lookup(entry.host)) {
          const ip = parseIp(answer.address);
          if (ip === null) continue;
          const bits = ip.family === 4 ? 32 : 128;
          resolved.push({
            text: `${answer.address} (${entry.text})`,
            cidr: { address: ip, prefix: bits },
            ...(entry.port === undefined ? {} : { port: entry.port }),
            label: entry.label ?? "EGRESS_DENY",
          });
        }
      } catch {
        // Does not resolve here (e.g. metadata.google.internal outside GCP): nothing to deny by address.
      }
    }
    this.#resolvedDeny = resolved;
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = this.#sessionOf.get(req.socket);
    let url: URL;
    try {
      url = new URL(req.url ?? "");
    } catch {
      res.writeHead(400, { "content-type": "text/plain", connection: "close" });
      res.end("This is Conveyor's egress proxy: send absolute-form requests\n");
      return;
    }
    if (session === undefined || url.protocol !== "http:") {
      res.writeHead(400, { "content-type": "text/plain", connection: "close" });
      res.end("Only http: requests are proxied; https: and ws: go through CONNECT\n");
      return;
    }
    const port = url.port === "" ? 80 : Number(url.port);
    const shown = stripCredentials(url);
    const target = await session.resolve(url.hostname, port);
    if (!target.ok) {
      const refusal = session.record(target, shown);
      sendRefusal(res, refusal);
      return;
    }
    const upstream = http.request({
      host: target.address,
      family: target.family,
      port,
      method: req.method,
      path: `${url.pathname}${url.search}`,
      headers: withoutHopByHop(req.rawHeaders),
      setHost: false,
      agent: this.#agent,
    });
    const connectTimer = this.#connectTimer(upstream);
    let answered = false;
    upstream.on("response", (response) => {
      answered = true;
      res.writeHead(response.statusCode ?? 502, response.statusMessage, withoutHopByHop(response.rawHeaders));
      response.pipe(res);
      response.on("error", () => res.destroy());
    });
    upstream.on("error", (error) => {
      clearTimeout(connectTimer);
      if (answered || res.headersSent) {
        res.destroy();
        return;
      }
      const refusal = session.record(
        { ok: false, kind: "unreachable", host: target.host, port, code: connectErrorCode(error) },
        shown,
      );
      sendRefusal(res, refusal);
    });
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  async #onConnect(req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
    const session = this.#sessionOf.get(req.socket) ?? this.#sessionOf.get(client);
    client.on("error", () => client.destroy());
    const authority = parseAuthority(req.url ?? "");
    if (session === undefined || authority === null) {
      client.end("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
      return;
    }
    const shown = authority.port === 443 ? `https://${authority.host}/` : `${authority.host}:${authority.port}`;
    const target = await session.resolve(authority.host, authority.port);
    if (!target.ok) {
      const refusal = session.record(target, shown);
      client.end(
        `HTTP/1.1 ${refusal.kind === "blocked" ? "403 Forbidden" : "502 Bad Gateway"}\r\n${REFUSAL_HEADER}: ${refusal.id}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`,
      );
      return;
    }
    const upstream = net.connect({ host: target.address, port: authority.port, family: target.family });
    session.track(upstream);
    const timer = setTimeout(() => {
      upstream.destroy(Object.assign(new Error("connect timed out"), { code: "ETIMEDOUT" }));
    }, this.#options.connectTimeoutMs ?? 15_000);
    let open = false;
    upstream.once("connect", () => {
      clearTimeout(timer);
      open = true;
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on("error", (error) => {
      clearTimeout(timer);
      if (open) {
        client.destroy();
        return;
      }
      const refusal = session.record(
        { ok: false, kind: "unreachable", host: target.host, port: authority.port, code: connectErrorCode(error) },
        shown,
      );
      client.end(
        `HTTP/1.1 502 Bad Gateway\r\n${REFUSAL_HEADER}: ${refusal.id}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`,
      );
    });
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
  }

  /** Fails a forwarded request whose connection does not open in time (not a slow response). */
  #connectTimer(request: http.ClientRequest): NodeJS.Timeout | undefined {
    let timer: NodeJS.Timeout | undefined;
    request.once("socket", (socket: Socket) => {
      if (!socket.connecting) return;
      timer = setTimeout(() => {
        request.destroy(Object.assign(new Error("connect timed out"), { code: "ETIMEDOUT" }));
      }, this.#options.connectTimeoutMs ?? 15_000);
      socket.once("connect", () => clearTimeout(timer));
    });
    return timer;
  }
}

/**
 * One browser context's door to the network: connections to its listener are checked against
 * the policy bound to it (none bound: everything is refused), and its refusals are kept for the
 * run to report.
 */
export class EgressSession {
  readonly #proxy: EgressProxy;
  readonly #registry: Set<EgressSession>;
  readonly #listener = net.createServer();
  readonly #sockets = new Set<Socket>();
  #policy: EgressPolicy | null = null;
  #recent: EgressRefusal[] = [];
  #pending: EgressRefusal[] = [];
  #pendingCount = 0;
  #port = 0;
  #closing: Promise<void> | null = null;

  constructor(proxy: EgressProxy, registry: Set<EgressSession>) {
    this.#proxy = proxy;
    this.#registry = registry;
  }

  /** `http://127.0.0.1:<port>`: what the browser context's `proxy.server` is set to. */
  get server(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  get port(): number {
    return this.#port;
  }

  async listen(onConnection: (socket: Socket) => void): Promise<void> {
    this.#listener.on("connection", (socket: Socket) => {
      this.track(socket);
      onConnection(socket);
    });
    await new Promise<void>((resolve, reject) => {
      this.#listener.once("error", reject);
      this.#listener.listen(0, "127.0.0.1", () => {
        this.#listener.off("error", reject);
        resolve();
      });
    });
    const address = this.#listener.address();
    this.#port = typeof address === "object" && address !== null ? address.port : 0;
    this.#registry.add(this);
  }

  /** Applies `policy` to this context's requests from now on; without one, the proxy's (the operator's). */
  bind(policy?: EgressPolicy): void {
    this.#policy = policy ?? this.#proxy.policy;
  }

  /** Forgets the bound policy: every request is refused again (a context between runs). */
  unbind(): void {
    this.#policy = null;
  }

  async resolve(host: string, port: number): Promise<ResolvedTarget> {
    const policy = this.#policy;
    if (policy === null) {
      return { ok: false, kind: "blocked", host, port, rule: "no run is using this browser context" };
    }
    return this.#proxy.resolve(policy, host, port);
  }

  /** Keeps a refusal and returns it. */
  record(target: Extract<ResolvedTarget, { ok: false }>, url: string): EgressRefusal {
    const refusal: EgressRefusal = {
      id: `egr_${randomBytes(9).toString("base64url")}`,
      kind: target.kind,
      url,
      host: target.host,
      port: target.port,
      ...(target.kind === "blocked" ? { rule: target.rule } : { code: target.code }),
    };
    this.#recent.push(refusal);
    if (this.#recent.length > RECENT_REFUSALS) this.#recent.shift();
    if (refusal.kind === "blocked") {
      this.#pendingCount += 1;
      if (this.#pending.length < REFUSALS_KEPT_PER_TAKE) this.#pending.push(refusal);
    }
    return refusal;
  }

  /** Requests blocked by the policy since the last call (unreachable destinations are not counted). */
  takeRefusals(): RefusalSummary {
    const summary = { count: this.#pendingCount, first: this.#pending };
    this.#pending = [];
    this.#pendingCount = 0;
    return summary;
  }

  /** A recent refusal by its id (the `x-conveyor-egress-refusal` header of a response). */
  refusal(id: string): EgressRefusal | undefined {
    return this.#recent.find((refusal) => refusal.id === id);
  }

  /** The latest refusal of a tunnel to `host:port` (an HTTPS or WebSocket request Chromium reports as a tunnel failure). */
  latestRefusalFor(host: string, port: number): EgressRefusal | undefined {
    for (let i = this.#recent.length - 1; i >= 0; i--) {
      const refusal = this.#recent[i];
      if (refusal && refusal.host === host && refusal.port === port) return refusal;
    }
    return undefined;
  }

  track(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once("close", () => this.#sockets.delete(socket));
  }

  /** Stops listening and ends every connection of this session. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#policy = null;
      this.#registry.delete(this);
      for (const socket of this.#sockets) socket.destroy();
      this.#listener.close(() => resolve());
    });
    return this.#closing;
  }
}

function sendRefusal(res: ServerResponse, refusal: EgressRefusal): void {
  const blocked = refusal.kind === "blocked";
  const text = blocked
    ? `Blocked by Conveyor's egress policy: ${refusal.url} (${refusal.rule})\n`
    : `Could not reach ${refusal.url}: ${refusal.code}\n`;
  res.writeHead(blocked ? 403 : 502, {
    "content-type": "text/plain; charset=utf-8",
    "cache-control": "no-store",
    [REFUSAL_HEADER]: refusal.id,
  });
  res.end(text);
}

/** `host:port` of a CONNECT request (IPv6 in brackets); the port is required. */
function parseAuthority(authority: string): { host: string; port: number } | null {
  const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(authority);
  if (!match?.[1] || !match[2]) return null;
  const port = Number(match[2]);
  if (port < 1 || port > 65_535) return null;
  return { host: match[1], port };
}
