/**
 * The startup check of Redis settings (core/redis.ts checkRedisEvictionPolicy) against a private
 * `redis-server` of this file's own: a policy that may evict queued jobs is logged loudly,
 * `noeviction` is not, and a Redis that disables CONFIG (managed services) is skipped quietly.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { checkRedisEvictionPolicy, connectRedis, createLogger, type Logger } from "@conveyor/core";
import { freePort, waitFor } from "@conveyor/testing/processes";
import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";

interface PrivateRedis {
  redis: Redis;
  stop(): Promise<void>;
}

const started: PrivateRedis[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((server) => server.stop()));
});

/** A redis-server on a free port, without persistence, with the extra arguments given. */
async function startRedis(args: string[]): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "conveyor-redis-policy-"));
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, ...args],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `redis://127.0.0.1:${port}`;
  const redis = await waitFor(() => connectRedis({ url, connectTimeoutMs: 500 }), {
    timeoutMs: 10_000,
    what: `redis-server on ${port}`,
  });
  const server: PrivateRedis = {
    redis,
    async stop() {
      redis.disconnect();
      child.kill("SIGKILL");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
  started.push(server);
  return server;
}

/** The processes' own logger, writing its JSON lines into `lines`. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const logger = createLogger({ level: "info", base: { service: "test" }, destination: sink });
  return { logger, lines };
}

describe("checkRedisEvictionPolicy", () => {
  it("warns, naming the policy and the fix, when Redis may evict keys (allkeys-lru)", async () => {
    const { redis } = await startRedis(["--maxmemory-policy", "allkeys-lru"]);
    const { logger, lines } = capturingLogger();
    expect(await checkRedisEvictionPolicy(redis, logger)).toBe("allkeys-lru");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      maxmemoryPolicy: "allkeys-lru",
      msg: 'Redis maxmemory-policy is "allkeys-lru": under memory pressure Redis will delete queued jobs. Set maxmemory-policy noeviction.',
    });
  });

  it("is silent for noeviction", async () => {
    const { redis } = await startRedis(["--maxmemory-policy", "noeviction"]);
    const { logger, lines } = capturingLogger();
    expect(await checkRedisEvictionPolicy(redis, logger)).toBe("noeviction");
    expect(lines).toEqual([]);
  });

  it("skips the check quietly where CONFIG is disabled", async () => {
    const { redis } = await startRedis(["--maxmemory-policy", "allkeys-lru", "--rename-command", "CONFIG", ""]);
    const { logger, lines } = capturingLogger();
    expect(await checkRedisEvictionPolicy(redis, logger)).toBeUndefined();
    expect(lines).toEqual([]);
  });
});
