/**
 * An API app on real infrastructure for one test file: its own migrated database, its own Redis
 * key prefix, a real BullMQ queue and a local artifact directory. `close()` leaves nothing behind.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalArtifactStore } from "@conveyor/artifacts";
import { RUNS_QUEUE } from "@conveyor/core";
import { createTestDatabase, type TestDatabase } from "@conveyor/db/testing";
import { Queue } from "bullmq";
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import { pino } from "pino";
import { type AppOptions, buildApp } from "../src/app.ts";
import { createRunQueue, type RunQueue } from "../src/queue.ts";

export const ADMIN_TOKEN = "test-admin-token-0123456789";
export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
/** Small, so that the oversized-body test needs only a modest payload. */
export const BODY_LIMIT_BYTES = 64 * 1024;
export const DEFAULTS = { runTimeoutMs: 60_000, actionTimeoutMs: 5_000, maxAttempts: 3 };

export interface TestApp {
  app: FastifyInstance;
  db: TestDatabase;
  redis: Redis;
  prefix: string;
  runQueue: RunQueue;
  /** A second, independent view of the runs queue, to inspect what the API enqueued. */
  inspectQueue: Queue;
  artifacts: LocalArtifactStore;
  artifactDir: string;
  /** Flip to make readiness fail as during shutdown. */
  shuttingDown: { value: boolean };
  close(): Promise<void>;
}

/** A fixed SECRETS_KEY for tests (32 bytes, hex). */
export const TEST_SECRETS_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0";

export function uniquePrefix(label: string): string {
  return `cvt-${label}-${randomBytes(4).toString("hex")}`;
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 500);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== "0");
}

export async function createTestApp(label: string, overrides: Partial<AppOptions> = {}): Promise<TestApp> {
  const db = await createTestDatabase(label);
  const prefix = uniquePrefix(label);
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
  const runQueue = createRunQueue(redis, { prefix, policy: { attempts: DEFAULTS.maxAttempts, backoffMs: 1000 } });
  const inspectQueue = new Queue(RUNS_QUEUE, { connection: redis, prefix });
  const artifactDir = await mkdtemp(join(tmpdir(), `conveyor-${label}-`));
  const artifacts = new LocalArtifactStore(join(artifactDir, "store"));
  const shuttingDown = { value: false };
  const app = await buildApp({
    db,
    redis,
    queue: runQueue,
    artifacts,
    logger: pino({ level: "silent" }),
    adminToken: ADMIN_TOKEN,
    bodyLimitBytes: BODY_LIMIT_BYTES,
    defaults: DEFAULTS,
    queuePrefix: prefix,
    secretsKey: TEST_SECRETS_KEY,
    isShuttingDown: () => shuttingDown.value,
    // Security tests send many wrong credentials from one address; the throttle has its own tests.
    authThrottle: { limit: 100_000, windowMs: 60_000, lockoutMs: 60_000 },
    metricsPublic: true,
    ...overrides,
  });
  await app.ready();
  return {
    app,
    db,
    redis,
    prefix,
    runQueue,
    inspectQueue,
    artifacts,
    artifactDir,
    shuttingDown,
    async close() {
      await app.close();
      await runQueue.close();
      await inspectQueue.close();
      await deleteKeys(redis, prefix);
      await redis.quit();
      await db.drop();
      await rm(artifactDir, { recursive: true, force: true });
    },
  };
}

/** Headers authenticating as a project. */
export function auth(apiKey: string): Record<string, string> {
  return { authorization: `Bearer ${apiKey}` };
}

/** Creates a project through the API; returns its id and key. */
export async function createProjectViaApi(app: FastifyInstance, name: string): Promise<{ id: string; apiKey: string }> {
  const response = await app.inject({
    method: "POST",
    url: "/api/projects",
    headers: auth(ADMIN_TOKEN),
    payload: { name },
  });
  if (response.statusCode !== 201)
    throw new Error(`POST /api/projects answered ${response.statusCode}: ${response.body}`);
  const body = response.json() as { project: { id: string }; apiKey: string };
  return { id: body.project.id, apiKey: body.apiKey };
}

/** A small valid recording in the canonical format. */
export function sampleRecording(name = "checkout") {
  return {
    version: 1,
    name,
    startUrl: "https://shop.example.test/",
    actions: [
      { type: "navigate", url: "https://shop.example.test/" },
      { type: "input", selector: "#password", value: "${PASSWORD}", sensitive: true },
      { type: "click", selector: [{ strategy: "testid", value: "buy" }] },
      { type: "assert", check: "urlContains", expected: "/thanks" },
    ],
  };
}
