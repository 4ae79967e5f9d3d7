/**
 * A Conveyor stack for end-to-end tests: its own database, its own Redis prefix, an API process
 * and any number of worker processes, all real.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "@conveyor/db/testing";
import { Redis } from "ioredis";
import { BINS, freePort, type Proc, startProcess, stopAllProcesses, uniquePrefix, waitFor } from "./processes.ts";

export const ADMIN_TOKEN = "test-admin-token-0123456789";
/** SECRETS_KEY shared by a stack's API and workers (32 bytes, hex). */
export const SECRETS_KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
export const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export interface Stack {
  db: TestDatabase;
  prefix: string;
  artifactDir: string;
  env: Record<string, string>;
  api?: Proc;
  apiUrl: string;
  startApi(extra?: Record<string, string>): Promise<Proc>;
  startWorker(name: string, extra?: Record<string, string>): Promise<Proc>;
  /** fetch against the API with the project's key. */
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<{ status: number; body: any; headers: Headers }>;
  createProject(name?: string): Promise<string>;
  apiKey?: string;
  waitForRun(runId: string, statuses: string[], timeoutMs?: number): Promise<any>;
  stop(): Promise<void>;
}

export async function createStack(label: string): Promise<Stack> {
  const db = await createTestDatabase(label);
  const prefix = uniquePrefix(label);
  const artifactDir = mkdtempSync(join(tmpdir(), `conveyor-${label}-`));
  const port = await freePort();
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    ARTIFACT_DIR: artifactDir,
    ADMIN_TOKEN,
    PORT: String(port),
    HOST: "127.0.0.1",
    SECRETS_KEY,
    // Fixture sites listen on loopback: the operator's allowlist opens it, as a team would open
    // its staging network; the API itself stays denied, as an operator is told to (Postgres and
    // Redis are denied by the built-in list).
    EGRESS_ALLOW: "127.0.0.1",
    EGRESS_DENY: `127.0.0.1:${port}`,
    // Tests scrape /metrics without a token unless they test the token (METRICS_TOKEN wins when set).
    METRICS_PUBLIC: "true",
  };
  const stack: Stack = {
    db,
    prefix,
    artifactDir,
    env,
    apiUrl: `http://127.0.0.1:${port}`,
    async startApi(extra = {}) {
      const api = startProcess("api", BINS.api, { ...env, ...extra });
      // A minute: on a loaded 2-core machine a cold start (tsx, migrations) can take half of that.
      await api.waitForOutput(/API listening/, 60_000);
      stack.api = api;
      return api;
    },
    async startWorker(name, extra = {}) {
      const worker = startProcess(name, BINS.worker, { ...env, WORKER_NAME: name, ...extra });
      // A minute: the worker also launches Chromium before it is ready.
      await worker.waitForOutput(/worker ready/, 60_000);
      return worker;
    },
    async request(method, path, body, headers = {}) {
      const response = await fetch(`${stack.apiUrl}${path}`, {
        method,
        headers: {
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(stack.apiKey ? { authorization: `Bearer ${stack.apiKey}` } : {}),
          ...headers,
        },
        ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
      });
      const text = await response.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {
        // not JSON (an artifact)
      }
      return { status: response.status, body: parsed, headers: response.headers };
    },
    async createProject(name = "e2e") {
      const response = await stack.request(
        "POST",
        "/api/projects",
        { name },
        { authorization: `Bearer ${ADMIN_TOKEN}` },
      );
      if (response.status !== 201) throw new Error(`project creation failed: ${JSON.stringify(response.body)}`);
      stack.apiKey = response.body.apiKey;
      return response.body.apiKey as string;
    },
    async waitForRun(runId, statuses, timeoutMs = 60_000) {
      return waitFor(
        async () => {
          const response = await stack.request("GET", `/api/runs/${runId}`);
          return statuses.includes(response.body?.status) ? response.body : undefined;
        },
        { timeoutMs, what: `run ${runId} to reach ${statuses.join("|")}` },
      );
    },
    async stop() {
      await stopAllProcesses();
      const redis = new Redis(REDIS_URL);
      try {
        const keys = await redis.keys(`${prefix}:*`);
        // In chunks: a spread of 100k+ keys (a benchmark's queue) overflows the call stack.
        for (let i = 0; i < keys.length; i += 10_000) await redis.del(...keys.slice(i, i + 10_000));
      } finally {
        redis.disconnect();
      }
      await db.drop();
      rmSync(artifactDir, { recursive: true, force: true });
    },
  };
  return stack;
}
