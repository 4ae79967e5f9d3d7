/**
 * The artifact sweeper against real Redis and a real local store: it deletes artifacts past the
 * retention period, only one worker sweeps per period, and a failed sweep lets another retry.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type ArtifactStore, LocalArtifactStore } from "@conveyor/artifacts";
import { artifactSweepLeaseKey, createLogger } from "@conveyor/core";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ArtifactSweeper } from "../src/artifact-sweeper.ts";

const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `cvt-sweeper-${randomBytes(4).toString("hex")}`;
const logger = createLogger({ level: "silent" });
const DAY = 86_400_000;

let redis: Redis;
let dir: string;
let store: LocalArtifactStore;

function sweeper(name: string, options: { store?: ArtifactStore; retentionDays?: number } = {}): ArtifactSweeper {
  return new ArtifactSweeper({
    store: options.store ?? store,
    connection: redis,
    prefix,
    logger,
    name,
    retentionDays: options.retentionDays ?? 30,
    periodMs: 60_000,
  });
}

async function putAged(key: string, days: number): Promise<void> {
  await store.put(key, Buffer.from(key), "image/png");
  const when = new Date(Date.now() - days * DAY);
  await utimes(path.join(store.dir, key), when, when);
}

beforeAll(async () => {
  redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  dir = await mkdtemp(path.join(tmpdir(), "conveyor-sweeper-"));
  store = new LocalArtifactStore(dir);
});

afterEach(async () => {
  await redis.del(artifactSweepLeaseKey(prefix));
});

afterAll(async () => {
  await redis?.del(artifactSweepLeaseKey(prefix));
  await redis?.quit();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("ArtifactSweeper", () => {
  it("deletes what is older than the retention period, once per period across workers", async () => {
    await putAged("run_a/1/old.png", 31);
    await putAged("run_b/1/recent.png", 29);
    expect(await sweeper("worker-1").pass()).toBe(1);
    expect(await store.get("run_a/1/old.png")).toBeNull();
    expect(await store.get("run_b/1/recent.png")).not.toBeNull();

    // The period's lease is taken: another worker (or the same one) does nothing until it expires.
    await putAged("run_c/1/old.png", 40);
    expect(await sweeper("worker-2").pass()).toBeNull();
    expect(await sweeper("worker-1").pass()).toBeNull();
    expect(await store.get("run_c/1/old.png")).not.toBeNull();
    expect(await redis.pttl(artifactSweepLeaseKey(prefix))).toBeGreaterThan(50_000);

    await redis.del(artifactSweepLeaseKey(prefix)); // the period ended
    expect(await sweeper("worker-2").pass()).toBe(1);
  });

  it("gives the lease back when a sweep fails, so the next check can retry", async () => {
    const failing: ArtifactStore = {
      put: (key, body, contentType) => store.put(key, body, contentType),
      get: (key) => store.get(key),
      sweep: async () => {
        throw new Error("store unreachable");
      },
    };
    await expect(sweeper("worker-1", { store: failing }).pass()).rejects.toThrow("store unreachable");
    expect(await redis.exists(artifactSweepLeaseKey(prefix))).toBe(0);
    await putAged("run_d/1/old.png", 31);
    expect(await sweeper("worker-2").pass()).toBe(1);
  });

  it("does nothing with ARTIFACT_RETENTION_DAYS=0 (keep forever)", async () => {
    await putAged("run_e/1/ancient.png", 3650);
    expect(await sweeper("worker-1", { retentionDays: 0 }).pass()).toBeNull();
    expect(await store.get("run_e/1/ancient.png")).not.toBeNull();
    expect(await redis.exists(artifactSweepLeaseKey(prefix))).toBe(0);
  });

  it("runs on its timer and stops cleanly", async () => {
    await putAged("run_f/1/old.png", 31);
    const timed = new ArtifactSweeper({
      store,
      connection: redis,
      prefix,
      logger,
      name: "worker-timer",
      retentionDays: 30,
      periodMs: 60_000,
      firstCheckMs: 10,
      checkIntervalMs: 50,
    });
    timed.start();
    await expect.poll(() => store.get("run_f/1/old.png"), { timeout: 5000 }).toBeNull();
    await timed.stop();
  });
});
