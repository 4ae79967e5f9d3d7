/**
 * The worker's liveness key against real Redis: written at start with WORKER_DEAD_AFTER_MS as its
 * TTL and the process's start time as its value, refreshed while the worker lives, and on stop
 * deleted only if it is still this process's (a successor under the same name keeps its own).
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger, workerKey } from "@conveyor/core";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Heartbeat, PROCESS_STARTED_AT_MS, workerLivenessKey } from "../src/heartbeat.ts";
import { WorkerStats } from "../src/stats.ts";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `cvt-heartbeat-${randomBytes(4).toString("hex")}`;
let redis: Redis;

function heartbeat(name: string, deadAfterMs: number): Heartbeat {
  return new Heartbeat({
    connection: redis,
    prefix,
    name,
    concurrency: 1,
    intervalMs: 60_000,
    stats: new WorkerStats(),
    activeRuns: () => 0,
    logger: createLogger({ level: "silent" }),
    deadAfterMs,
  });
}

beforeAll(() => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
});

afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

describe("Heartbeat liveness key", () => {
  it("is written at start with the threshold as TTL, refreshed every quarter of it, and removed on stop", async () => {
    const beat = heartbeat("w-live", 2000);
    const key = workerLivenessKey(prefix, "w-live");
    await beat.start();
    try {
      expect(await redis.get(key)).toBe(String(PROCESS_STARTED_AT_MS));
      expect(PROCESS_STARTED_AT_MS).toBeLessThanOrEqual(Date.now());
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(2000);
      // Alive for longer than the TTL: refreshed meanwhile.
      await sleep(2500);
      expect(await redis.exists(key)).toBe(1);
    } finally {
      await beat.stop();
    }
    expect(await redis.exists(key)).toBe(0);
    expect(await redis.exists(workerKey(prefix, "w-live"))).toBe(0);
  });

  it("on stop leaves a successor's key alone", async () => {
    const beat = heartbeat("w-shared", 5000);
    const key = workerLivenessKey(prefix, "w-shared");
    await beat.start();
    // Another process took the name meanwhile (a restarted container).
    await redis.set(key, String(PROCESS_STARTED_AT_MS + 1000), "PX", 5000);
    await beat.stop();
    expect(await redis.get(key)).toBe(String(PROCESS_STARTED_AT_MS + 1000));
  });
});
