/**
 * Admission control with real processes: two API replicas and two workers sharing Postgres and
 * Redis. Rate limits hold across replicas per key, a project's queue cap holds exactly under a
 * concurrent burst on both replicas, a project at its concurrency cap never runs more at once
 * while another project's runs go ahead (and its waiting runs are not spun through the queue),
 * a revoked key is refused by the other replica without waiting out its key cache, and a burst of
 * wrong admin tokens is refused before it ends.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { BINS, freePort, type Proc, startProcess, waitFor } from "@conveyor/testing/processes";
import { slowRecording } from "@conveyor/testing/recordings";
import { ADMIN_TOKEN, createStack, type Stack } from "@conveyor/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const SUBMIT_PER_MIN = 60;
const AUTH_FAILURE_LIMIT = 10;
const TERMINAL = ["passed", "failed", "errored", "cancelled"];

let stack: Stack;
let site: FixtureSite;
let apiB: Proc;
let apiBUrl: string;
let workerMetrics: string[] = [];

const settings = {
  RATE_LIMIT_SUBMIT_PER_MIN: String(SUBMIT_PER_MIN),
  AUTH_FAILURE_LIMIT: String(AUTH_FAILURE_LIMIT),
  AUTH_LOCKOUT_MS: "4000",
  API_KEY_CACHE_TTL_MS: "30000",
  METRICS_PUBLIC: "true",
};

beforeAll(async () => {
  site = await startFixtureSite();
  stack = await createStack("admission");
  const portB = await freePort();
  apiBUrl = `http://127.0.0.1:${portB}`;
  await stack.startApi(settings);
  apiB = startProcess("api-b", BINS.api, { ...stack.env, ...settings, PORT: String(portB) });
  await apiB.waitForOutput(/API listening/, 60_000);
});

afterAll(async () => {
  await stack?.stop();
  await site?.close();
});

async function send(
  base: string,
  method: string,
  path: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
}

async function project(name: string, limits?: Record<string, number>): Promise<{ id: string; key: string }> {
  const created = await send(stack.apiUrl, "POST", "/api/projects", ADMIN_TOKEN, { name });
  expect(created.status).toBe(201);
  if (limits) {
    const patched = await send(stack.apiUrl, "PATCH", `/api/projects/${created.body.project.id}`, ADMIN_TOKEN, {
      limits,
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
  }
  return { id: created.body.project.id, key: created.body.apiKey };
}

const quick = { recording: { name: "quick", actions: [{ type: "navigate", url: "about:blank" }] } };

describe("rate limits", () => {
  it("a flood from one key gets 429 with Retry-After on both replicas; another project's key is unaffected", async () => {
    const flooder = await project("flooder", { maxQueuedRuns: 1000 });
    const bystander = await project("bystander");
    const answers = await Promise.all(
      Array.from({ length: SUBMIT_PER_MIN + 20 }, (_, i) =>
        send(i % 2 === 0 ? stack.apiUrl : apiBUrl, "POST", "/api/runs", flooder.key, quick),
      ),
    );
    const accepted = answers.filter((answer) => answer.status === 202);
    const limited = answers.filter((answer) => answer.status === 429);
    expect(accepted.length).toBe(SUBMIT_PER_MIN);
    expect(limited.length).toBe(20);
    for (const answer of limited) {
      expect(answer.body.error.code).toBe("rate_limited");
      expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(answer.headers.get("ratelimit-limit")).toBe(String(SUBMIT_PER_MIN));
      expect(answer.headers.get("ratelimit-remaining")).toBe("0");
    }
    expect(accepted[0]?.headers.get("ratelimit-limit")).toBe(String(SUBMIT_PER_MIN));
    // Reads have a budget of their own, and another project's key is not touched by this flood.
    expect((await send(apiBUrl, "GET", "/api/runs", flooder.key)).status).toBe(200);
    expect((await send(apiBUrl, "POST", "/api/runs", bystander.key, quick)).status).toBe(202);
  });
});

describe("per-project quotas", () => {
  it("maxQueuedRuns holds exactly under a concurrent burst across both replicas", async () => {
    const capped = await project("capped", { maxQueuedRuns: 5 });
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        send(i % 2 === 0 ? stack.apiUrl : apiBUrl, "POST", "/api/runs", capped.key, quick),
      ),
    );
    expect(answers.filter((answer) => answer.status === 202)).toHaveLength(5);
    const full = answers.filter((answer) => answer.status === 429);
    expect(full).toHaveLength(35);
    for (const answer of full) {
      expect(answer.body.error.code).toBe("queue_full");
      expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    const [count] = await stack.db.query<{ n: number }>("select count(*)::int as n from runs where project_id = $1", [
      capped.id,
    ]);
    expect(count?.n).toBe(5);
  });

  it("maxPriority and maxRecordingBytes are refused naming the field", async () => {
    const strict = await project("strict", { maxPriority: 4, maxRecordingBytes: 2048 });
    const urgent = await send(stack.apiUrl, "POST", "/api/runs", strict.key, { ...quick, priority: 2 });
    expect(urgent.status).toBe(400);
    expect(urgent.body.error.message).toMatch(/^body\.priority: must be 4 or more/);
    expect((await send(stack.apiUrl, "POST", "/api/runs", strict.key, { ...quick, priority: 4 })).status).toBe(202);
    const big = {
      recording: {
        name: "big",
        actions: Array.from({ length: 40 }, (_, i) => ({ type: "navigate", url: `about:blank#${"x".repeat(40)}${i}` })),
      },
    };
    const tooBig = await send(stack.apiUrl, "POST", "/api/runs", strict.key, big);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.message).toMatch(
      /^body\.recording: is \d+ bytes, more than this project's maxRecordingBytes \(2048\)/,
    );
    const stored = await send(apiBUrl, "POST", "/api/recordings", strict.key, big.recording);
    expect(stored.status).toBe(413);
  });

  it("with maxConcurrentRuns 1 and two workers, a project's backlog never runs two at once, while another project's runs proceed", {
    timeout: 180_000,
  }, async () => {
    const workerEnv = { ...settings, WORKER_CONCURRENCY: "2", WORKER_METRICS_PORT: "0" };
    // Port 0: each worker's metrics server takes a free port and logs it (no race for a port).
    const workers = await Promise.all([
      stack.startWorker("w-adm-a", workerEnv),
      stack.startWorker("w-adm-b", workerEnv),
    ]);
    workerMetrics = workers.map((worker) => {
      const port = /"port":(\d+),"msg":"worker metrics listening"/.exec(worker.output())?.[1];
      if (port === undefined) throw new Error(`${worker.name} logged no metrics port`);
      return `http://127.0.0.1:${port}/metrics`;
    });
    // Earlier tests left quick runs queued at the default priority: these go first (priority 1).
    const solo = await project("solo", { maxConcurrentRuns: 1, maxQueuedRuns: 100 });
    const other = await project("other");
    const soloRuns: string[] = [];
    for (let i = 0; i < 4; i++) {
      const answer = await send(stack.apiUrl, "POST", "/api/runs", solo.key, {
        recording: slowRecording(site.url, 2500),
      });
      soloRuns.push(answer.body.id);
    }
    await sleep(1000);
    const otherRuns: string[] = [];
    for (let i = 0; i < 2; i++) {
      const answer = await send(apiBUrl, "POST", "/api/runs", other.key, {
        recording: slowRecording(site.url, 500),
        priority: 1,
      });
      otherRuns.push(answer.body.id);
    }
    // The other project's runs start while the capped project still has a backlog.
    const otherStarted = await waitFor(
      async () => {
        const rows = await stack.db.query<{ started_at: Date | null }>(
          "select started_at from runs where id = any($1)",
          [otherRuns],
        );
        return rows.every((row) => row.started_at !== null) ? rows : undefined;
      },
      { timeoutMs: 30_000, what: "the other project's runs to start" },
    );
    expect(otherStarted).toHaveLength(2);
    const [backlog] = await stack.db.query<{ n: number }>(
      "select count(*)::int as n from runs where id = any($1) and status = 'queued'",
      [soloRuns],
    );
    // The behaviour: they started while the capped project still had runs waiting.
    expect(backlog?.n ?? 0).toBeGreaterThan(0);

    const finished = await waitFor(
      async () => {
        const rows = await stack.db.query<{ status: string; attempt: number; started_at: Date; finished_at: Date }>(
          "select status, attempt, started_at, finished_at from runs where id = any($1) order by started_at",
          [soloRuns],
        );
        return rows.every((row) => TERMINAL.includes(row.status)) ? rows : undefined;
      },
      { timeoutMs: 120_000, what: "the capped project's runs to finish" },
    );
    for (const row of finished) expect(row).toMatchObject({ status: "passed", attempt: 1 });
    // Never two at once: each started after the previous one finished.
    for (let i = 1; i < finished.length; i++) {
      const previous = finished[i - 1];
      const current = finished[i];
      if (!previous || !current) continue;
      expect(new Date(current.started_at).getTime()).toBeGreaterThanOrEqual(new Date(previous.finished_at).getTime());
    }
    // Waiting runs were handed back with backoff, not spun: a few hand-backs each, not hundreds.
    let waits = 0;
    for (const url of workerMetrics) {
      const text = await (await fetch(url)).text();
      waits += Number(/^conveyor_worker_capacity_waits_total (\d+)/m.exec(text)?.[1] ?? 0);
    }
    expect(waits).toBeGreaterThan(0);
    expect(waits).toBeLessThan(40);
  });
});

describe("API keys across replicas", () => {
  it("a key revoked on one replica is refused by the other before its cached entry expires", async () => {
    const owner = await project("revoker");
    const created = await send(stack.apiUrl, "POST", "/api/keys", owner.key, { name: "short-lived" });
    expect(created.status).toBe(201);
    const secret = created.body.secret as string;
    // The other replica now trusts it for API_KEY_CACHE_TTL_MS (30 s here) from this lookup on.
    const cachedFrom = Date.now();
    expect((await send(apiBUrl, "GET", "/api/runs", secret)).status).toBe(200);
    expect((await send(stack.apiUrl, "DELETE", `/api/keys/${created.body.key.id}`, owner.key)).status).toBe(204);
    const cacheTtlMs = Number(settings.API_KEY_CACHE_TTL_MS);
    const refused = await waitFor(
      async () => {
        const answer = await send(apiBUrl, "GET", "/api/runs", secret);
        return answer.status === 401 ? answer : undefined;
      },
      { timeoutMs: cacheTtlMs, intervalMs: 50, what: "the other replica to refuse the revoked key" },
    );
    expect(refused.body.error.code).toBe("key_revoked");
    // Refused while its cached entry was still fresh: the revocation reached the other replica,
    // it did not merely expire there. (Typically within milliseconds; speed is not bounded here.)
    expect(Date.now() - cachedFrom).toBeLessThan(cacheTtlMs);
  });
});

describe("failed-authentication throttling", () => {
  it("a burst of wrong admin tokens is refused with 429 before it ends, on both replicas", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < AUTH_FAILURE_LIMIT + 10; i++) {
      const answer = await send(i % 2 === 0 ? stack.apiUrl : apiBUrl, "POST", "/api/projects", `wrong-token-${i}`, {
        name: "x",
      });
      statuses.push(answer.status);
      if (answer.status === 429) {
        expect(answer.body.error.code).toBe("auth_throttled");
        expect(Number(answer.headers.get("retry-after"))).toBeGreaterThan(0);
      }
    }
    // Refused from the failure past the limit on (earlier tests' failures count too), until the end.
    const firstRefused = statuses.indexOf(429);
    expect(firstRefused).toBeGreaterThan(0);
    expect(firstRefused).toBeLessThanOrEqual(AUTH_FAILURE_LIMIT);
    expect(statuses.slice(0, firstRefused).every((status) => status === 401)).toBe(true);
    expect(statuses.slice(firstRefused).every((status) => status === 429)).toBe(true);
    // Locked out: even the right token is refused from this address for a while, then works again.
    expect((await send(apiBUrl, "POST", "/api/projects", ADMIN_TOKEN, { name: "x" })).status).toBe(429);
    // Invented API keys count too, and are refused the same way.
    expect((await send(stack.apiUrl, "GET", "/api/runs", "cvk_invented")).status).toBe(429);
    await sleep(4200);
    expect((await send(stack.apiUrl, "POST", "/api/projects", ADMIN_TOKEN, { name: "after" })).status).toBe(201);
    // Logged once, by whichever replica started the lockout.
    const logged =
      `${stack.api?.output() ?? ""}${apiB.output()}`.match(/too many failed authentication attempts/g) ?? [];
    expect(logged).toHaveLength(1);
  });
});
