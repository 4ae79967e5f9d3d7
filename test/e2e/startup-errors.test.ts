/**
 * Configuration mistakes fail at start, with one clear line per problem naming the variable and
 * the fix — never a stack trace, never a half-started process.
 */

import { BINS, freePort, startProcess, stopAllProcesses } from "@conveyor/testing/processes";
import { REDIS_URL } from "@conveyor/testing/stack";
import { afterAll, describe, expect, it } from "vitest";

const DATABASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

afterAll(stopAllProcesses);

async function failedStart(bin: string, env: Record<string, string>, args: string[] = []) {
  const proc = startProcess("misconfigured", bin, env, args);
  const exit = await proc.exited;
  return { code: exit.code, output: proc.output() };
}

describe("startup errors", () => {
  it("lists every bad variable, one line each", async () => {
    const { code, output } = await failedStart(BINS.worker, {
      DATABASE_URL,
      WORKER_CONCURRENCY: "many",
      SHUTDOWN_TIMEOUT_MS: "-1",
      REDIS_URL: "http://127.0.0.1:6379",
      LOG_LEVEL: "chatty",
      EGRESS_ALLOW: "10.20.0.0/16,10.0.0.0/40",
    });
    expect(code).toBe(1);
    expect(output).toMatch(/Invalid configuration:/);
    expect(output).toMatch(/WORKER_CONCURRENCY: expected a whole number, got "many"/);
    expect(output).toMatch(/SHUTDOWN_TIMEOUT_MS: expected a number from 0 to/);
    expect(output).toMatch(/REDIS_URL: expected a redis: or rediss: URL/);
    expect(output).toMatch(/LOG_LEVEL: expected one of trace, debug, info/);
    expect(output).toMatch(/EGRESS_ALLOW: "10\.0\.0\.0\/40" is not a valid address or CIDR block/);
    expect(output).not.toMatch(/\n\s+at /); // no stack trace
  });

  it("separate processes require DATABASE_URL", async () => {
    for (const bin of [BINS.api, BINS.worker]) {
      const { code, output } = await failedStart(bin, { REDIS_URL });
      expect(code).toBe(1);
      expect(output).toMatch(/DATABASE_URL: is required when the (API|worker) runs as its own process/);
    }
  });

  it("an unreachable Redis is named, with how to start one", async () => {
    const port = await freePort();
    const { code, output } = await failedStart(BINS.api, {
      DATABASE_URL,
      REDIS_URL: `redis://127.0.0.1:${port}`,
      PORT: String(await freePort()),
    });
    expect(code).toBe(1);
    expect(output).toMatch(new RegExp(`Cannot reach Redis at redis://127.0.0.1:${port}/? \\(REDIS_URL\\)`));
    expect(output).toMatch(/Start Redis/);
  });

  it("a database password never appears in the error", async () => {
    const { code, output } = await failedStart(BINS.api, { DATABASE_URL: "mysql://app:hunter2@db/x", REDIS_URL });
    expect(code).toBe(1);
    expect(output).toMatch(/DATABASE_URL: expected a postgres: or postgresql: URL/);
    expect(output).not.toContain("hunter2");
  });

  it("a missing Chromium names the fix", async () => {
    const { code, output } = await failedStart(BINS.worker, {
      DATABASE_URL,
      REDIS_URL,
      QUEUE_PREFIX: "cvt-startup-errors",
      CHROMIUM_PATH: "/nonexistent/chromium",
    });
    expect(code).toBe(1);
    expect(output).toMatch(/CHROMIUM_PATH/);
    expect(output).toMatch(/\/nonexistent\/chromium/);
  });
});
