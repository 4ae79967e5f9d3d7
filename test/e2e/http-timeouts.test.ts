/**
 * A slow or silent client cannot hold a connection of a real API process: raw sockets that send
 * a body too slowly, headers byte by byte, nothing at all, or stop reading a large response are
 * all cut off by the server within the timeouts set (small, for the test).
 */
import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { LocalArtifactStore } from "@conveyor/artifacts";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const REQUEST_TIMEOUT_MS = 1500;
const HEADERS_TIMEOUT_MS = 1000;
const KEEP_ALIVE_TIMEOUT_MS = 1000;
const CONNECTION_TIMEOUT_MS = 2500;
/** "Well before": a server without these timeouts would hold every one of these connections for good. */
const CUT_OFF_WITHIN_MS = 10_000;

let stack: Stack;
let port: number;

beforeAll(async () => {
  stack = await createStack("http-timeouts");
  await stack.startApi({
    HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
    HTTP_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_TIMEOUT_MS),
    HTTP_CONNECTION_TIMEOUT_MS: String(CONNECTION_TIMEOUT_MS),
  });
  port = Number(new URL(stack.apiUrl).port);
  // Authenticated, so that the API reads the body instead of refusing the request up front.
  await stack.createProject("http-timeouts");
});

function authorization(): string {
  return `Authorization: Bearer ${stack.apiKey}`;
}

afterAll(async () => {
  await stack?.stop();
});

interface RawConnection {
  socket: Socket;
  /** When the connection was opened (ms, performance.now()). */
  openedAt: number;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves with the ms since opening once the server has closed the connection. */
  closed: Promise<number>;
}

/** How long a test connection waits for the server to close it before it closes itself (and fails). */
const GIVE_UP_MS = 20_000;

/** A raw TCP connection to the API; `closed` rejects if the server has not closed it within GIVE_UP_MS. */
async function openRaw(): Promise<RawConnection> {
  const socket = connect({ host: "127.0.0.1", port });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const openedAt = performance.now();
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  socket.on("error", () => {
    // A reset is also a close; `closed` reports it.
  });
  let gaveUp = false;
  const guard = setTimeout(() => {
    gaveUp = true;
    socket.destroy();
  }, GIVE_UP_MS);
  const closed = new Promise<number>((resolve, reject) =>
    socket.once("close", () => {
      clearTimeout(guard);
      if (gaveUp) reject(new Error(`the server still held the connection after ${GIVE_UP_MS} ms`));
      else resolve(performance.now() - openedAt);
    }),
  );
  return { socket, openedAt, received: () => Buffer.concat(chunks).toString("latin1"), closed };
}

/** Writes `text` one byte at a time, every `everyMs`, until the socket closes or `text` runs out. */
async function trickle(socket: Socket, text: string, everyMs: number): Promise<void> {
  for (const char of text) {
    if (socket.destroyed || !socket.writable) return;
    socket.write(char);
    await sleep(everyMs);
  }
}

describe("HTTP timeouts of the API server", () => {
  it("a request that declares 100 bytes of body and sends 4 is answered 408 and closed after the request timeout", async () => {
    const connection = await openRaw();
    connection.socket.write(
      [
        "POST /api/runs HTTP/1.1",
        "Host: 127.0.0.1",
        authorization(),
        "Content-Type: application/json",
        "Content-Length: 100",
        "",
        '{"re',
      ].join("\r\n"),
    );
    const elapsed = await connection.closed;
    expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
    // Not refused at once: the server waited for the body, then gave up.
    expect(elapsed).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    expect(elapsed).toBeLessThan(CUT_OFF_WITHIN_MS);
  });

  it("a body that keeps trickling in is still cut off at the request timeout", async () => {
    const connection = await openRaw();
    connection.socket.write(
      [
        "POST /api/runs HTTP/1.1",
        "Host: 127.0.0.1",
        authorization(),
        "Content-Type: application/json",
        "Content-Length: 1000",
        "",
        "",
      ].join("\r\n"),
    );
    // A byte every 100 ms: the connection is never idle, yet the whole request takes too long.
    void trickle(connection.socket, `{"recording":"${"x".repeat(980)}"}`, 100);
    const elapsed = await connection.closed;
    expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(elapsed).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
    expect(elapsed).toBeLessThan(CUT_OFF_WITHIN_MS);
  });

  it("headers sent byte by byte, slower than the headers timeout, are cut off (slowloris)", async () => {
    const connection = await openRaw();
    // Each byte 100 ms apart: 10 bytes a second, never idle, never done.
    void trickle(connection.socket, `GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${"a".repeat(500)}`, 100);
    const elapsed = await connection.closed;
    expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
    expect(elapsed).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    expect(elapsed).toBeLessThan(CUT_OFF_WITHIN_MS);
  });

  it("a connection that sends nothing is closed", async () => {
    const connection = await openRaw();
    const elapsed = await connection.closed;
    expect(elapsed).toBeLessThan(CUT_OFF_WITHIN_MS);
  });

  it("an idle keep-alive connection is closed after the keep-alive timeout", async () => {
    const connection = await openRaw();
    connection.socket.write("GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n");
    const elapsed = await connection.closed;
    const response = connection.received();
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(response).toMatch(/\r\nkeep-alive: timeout=1\r\n/i);
    expect(elapsed).toBeGreaterThanOrEqual(KEEP_ALIVE_TIMEOUT_MS - 100);
    expect(elapsed).toBeLessThan(CUT_OFF_WITHIN_MS);
  });

  it("a client that stops reading a large response is disconnected after the connection timeout", async () => {
    const created = await stack.request("POST", "/api/runs", {
      recording: { name: "never runs", actions: [{ type: "navigate", url: "http://127.0.0.1:9/" }] },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const runId = String(created.body.id);
    // Larger than what the kernel buffers on both ends of a loopback connection (a few MiB each).
    const size = 64 * 1024 * 1024;
    await new LocalArtifactStore(stack.artifactDir).put(`${runId}/1/big.zip`, Buffer.alloc(size, 7), "application/zip");

    const connection = await openRaw();
    connection.socket.pause();
    connection.socket.write(
      `GET /api/runs/${runId}/artifacts/1/big.zip HTTP/1.1\r\nHost: 127.0.0.1\r\n${authorization()}\r\n\r\n`,
    );
    // Read nothing for well past the connection timeout, then drain what is left. Node lets a
    // write that made progress since the last check run one more period, so up to twice it.
    await sleep(2 * CONNECTION_TIMEOUT_MS + 3000);
    connection.socket.resume();
    const elapsed = await connection.closed;
    const response = connection.received();
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    // The server gave up: the client got the start of the file, never all of it.
    expect(Buffer.byteLength(response, "latin1")).toBeLessThan(size);
    expect(elapsed).toBeLessThan(GIVE_UP_MS);
  });

  it("well-behaved requests are unaffected", async () => {
    const health = await fetch(`${stack.apiUrl}/api/health`);
    expect(health.status).toBe(200);
    const created = await stack.request("POST", "/api/runs", {
      recording: { name: "ok", actions: [{ type: "navigate", url: "http://127.0.0.1:9/" }] },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
  });
});
