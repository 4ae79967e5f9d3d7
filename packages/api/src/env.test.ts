import { describe, expect, it } from "vitest";
import { parseApiEnv } from "./env.ts";
import { DEFAULT_HTTP_TIMEOUTS } from "./http-timeouts.ts";

const BASE = { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test" };

describe("HTTP_*_TIMEOUT_MS", () => {
  it("default to 30 s for a request, 10 s for its headers, 5 s keep-alive, 60 s idle, as buildApp does", () => {
    const env = parseApiEnv(BASE);
    expect(env.HTTP_REQUEST_TIMEOUT_MS).toBe(30_000);
    expect(env.HTTP_HEADERS_TIMEOUT_MS).toBe(10_000);
    expect(env.HTTP_KEEP_ALIVE_TIMEOUT_MS).toBe(5000);
    expect(env.HTTP_CONNECTION_TIMEOUT_MS).toBe(60_000);
    expect(DEFAULT_HTTP_TIMEOUTS).toEqual({
      requestMs: env.HTTP_REQUEST_TIMEOUT_MS,
      headersMs: env.HTTP_HEADERS_TIMEOUT_MS,
      keepAliveMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS,
      connectionMs: env.HTTP_CONNECTION_TIMEOUT_MS,
    });
  });

  it("accept other values; the connection timeout can be turned off", () => {
    const env = parseApiEnv({
      ...BASE,
      HTTP_REQUEST_TIMEOUT_MS: "120000",
      HTTP_HEADERS_TIMEOUT_MS: "120000",
      HTTP_KEEP_ALIVE_TIMEOUT_MS: "65000",
      HTTP_CONNECTION_TIMEOUT_MS: "0",
    });
    expect(env.HTTP_REQUEST_TIMEOUT_MS).toBe(120_000);
    expect(env.HTTP_HEADERS_TIMEOUT_MS).toBe(120_000);
    expect(env.HTTP_KEEP_ALIVE_TIMEOUT_MS).toBe(65_000);
    expect(env.HTTP_CONNECTION_TIMEOUT_MS).toBe(0);
  });

  it("refuse a request or headers timeout that would turn them off or is not a number, naming the variable", () => {
    expect(() => parseApiEnv({ ...BASE, HTTP_REQUEST_TIMEOUT_MS: "0" })).toThrow(
      /HTTP_REQUEST_TIMEOUT_MS: expected a number from 1000 to 3600000, got 0/,
    );
    expect(() => parseApiEnv({ ...BASE, HTTP_HEADERS_TIMEOUT_MS: "soon" })).toThrow(
      /HTTP_HEADERS_TIMEOUT_MS: expected a whole number, got "soon"/,
    );
  });

  it("refuse a headers timeout above the request timeout (Node would refuse to start the server)", () => {
    const env = { ...BASE, HTTP_REQUEST_TIMEOUT_MS: "5000", HTTP_HEADERS_TIMEOUT_MS: "10000" };
    expect(() => parseApiEnv(env)).toThrow(/HTTP_HEADERS_TIMEOUT_MS: must be at most HTTP_REQUEST_TIMEOUT_MS \(5000\)/);
  });
});
