/**
 * Egress test tools, shared by the egress proxy's tests, the runner's and the end-to-end suite: a
 * canary server that must never be reached, a policy as a worker builds it, and requests through
 * the proxy (plain and CONNECT).
 */
import http from "node:http";
import net, { type AddressInfo, type Socket } from "node:net";
import { type EgressPolicy, egressPolicyFromEnv, parseEgressList } from "@conveyor/core";

/**
 * A server that must never be reached: it counts every TCP connection made to it (before any
 * byte is read), answers HTTP with a marker body, and echoes WebSocket-style upgrades as a plain
 * HTTP reply. `hits` is what a test asserts on.
 */
export interface Canary {
  port: number;
  url: string;
  hits: number;
  close(): Promise<void>;
}

export async function startCanary(): Promise<Canary> {
  const sockets = new Set<Socket>();
  const canary = { hits: 0 } as Canary;
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("CANARY-SECRET-CONTENT");
  });
  server.on("connection", (socket: Socket) => {
    canary.hits += 1;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  canary.port = (server.address() as AddressInfo).port;
  canary.url = `http://127.0.0.1:${canary.port}`;
  canary.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return canary;
}

/** A worker's default policy plus `allow` (EGRESS_ALLOW syntax). */
export function testPolicy(allow = "", extra: { EGRESS_POLICY?: EgressPolicy["mode"]; EGRESS_DENY?: string } = {}) {
  return egressPolicyFromEnv({
    EGRESS_POLICY: extra.EGRESS_POLICY ?? "public",
    EGRESS_ALLOW: parseEgressList(allow),
    EGRESS_DENY: parseEgressList(extra.EGRESS_DENY),
    EGRESS_PROJECT_MAX: [],
  });
}

/** GET `url` through the HTTP proxy at `proxy` (absolute-form request). */
export function getViaProxy(
  proxy: string,
  url: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  const proxyUrl = new URL(proxy);
  return new Promise((resolve, reject) => {
    const request = http.request({
      host: proxyUrl.hostname,
      port: Number(proxyUrl.port),
      method: "GET",
      path: url,
      headers: { host: new URL(url).host },
      agent: false,
    });
    request.on("response", (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    request.on("error", reject);
    request.end();
  });
}

/** Opens a CONNECT tunnel to `authority` through `proxy`; resolves with the proxy's status line and, when 200, the socket. */
export function connectViaProxy(
  proxy: string,
  authority: string,
): Promise<{ statusLine: string; headers: string; socket: Socket }> {
  const proxyUrl = new URL(proxy);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: proxyUrl.hostname, port: Number(proxyUrl.port) });
    let buffer = "";
    socket.on("error", reject);
    socket.on("data", function onData(chunk: Buffer) {
      buffer += chunk.toString("latin1");
      const end = buffer.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.off("data", onData);
      const [statusLine = "", ...rest] = buffer.slice(0, end).split("\r\n");
      resolve({ statusLine, headers: rest.join("\n"), socket });
    });
    socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`);
  });
}
