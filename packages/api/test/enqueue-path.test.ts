/**
 * What the `POST /api/runs` path was made cheaper with still does what it replaced, on real
 * Postgres and Redis:
 * - the rate limiter's batched Redis store counts exactly (a concurrent burst from one key gets
 *   consecutive counts and exactly its budget is admitted) while sending one or two commands per
 *   burst instead of one per request;
 * - the security headers computed once are helmet's own, as @fastify/helmet sets them;
 * - the 202 of a submission, written without its zod encoding, is exactly what `runResponse` says.
 */
import { fastifyHelmet } from "@fastify/helmet";
import Fastify from "fastify";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RateLimitCounter } from "../src/plugins/rate-limit-store.ts";
import { API_CSP_DIRECTIVES, securityHeaders } from "../src/plugins/security-headers.ts";
import { runResponse } from "../src/views.ts";
import {
  auth,
  createProjectViaApi,
  createTestApp,
  REDIS_URL,
  sampleRecording,
  type TestApp,
  uniquePrefix,
} from "./helpers.ts";

const SUBMIT_PER_MIN = 25;

let t: TestApp;
let redis: Redis;
const prefix = uniquePrefix("enqueue-path");

beforeAll(async () => {
  t = await createTestApp("enqueue-path", {
    rateLimits: { submitPerMin: SUBMIT_PER_MIN, writePerMin: 0, readPerMin: 0 },
  });
  redis = new Redis(REDIS_URL);
});

afterAll(async () => {
  const keys = await redis?.keys(`${prefix}:*`);
  if (keys?.length) await redis.del(...keys);
  redis?.disconnect();
  await t?.close();
});

/** Counts the commands a connection sends (the connection is real; this only watches it). */
function countCommands(connection: Redis): { readonly sent: string[] } {
  const sent: string[] = [];
  const original = connection.sendCommand.bind(connection);
  connection.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
    sent.push(command.name);
    return (original as (...args: unknown[]) => unknown)(command, ...rest);
  }) as typeof connection.sendCommand;
  return { sent };
}

describe("the rate limiter's batched store", () => {
  it("gives a concurrent burst on one counter consecutive counts, in one or two commands", async () => {
    const connection = new Redis(REDIS_URL);
    try {
      const counter = new RateLimitCounter(connection);
      await counter.count(`${prefix}:warm`, 60_000); // Redis has the script from here on
      const watched = countCommands(connection);
      const key = `${prefix}:burst`;
      const counts = await Promise.all(Array.from({ length: 50 }, () => counter.count(key, 60_000)));
      expect(counts.map((c) => c.current).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      for (const c of counts) {
        expect(c.ttl).toBeGreaterThan(0);
        expect(c.ttl).toBeLessThanOrEqual(60_000);
      }
      expect(await connection.get(key)).toBe("50");
      // A check that finds the store idle goes out alone; those that arrive while it is in flight
      // share the next command: one or two commands for the burst, not fifty.
      const scripts = watched.sent.filter((name) => name === "evalsha" || name === "eval");
      expect(scripts.length).toBeGreaterThanOrEqual(1);
      expect(scripts.length).toBeLessThanOrEqual(2);
    } finally {
      connection.disconnect();
    }
  });

  it("counts several counters in one batch independently, and restores a lost expiry", async () => {
    const counter = new RateLimitCounter(redis);
    const a = `${prefix}:a`;
    const b = `${prefix}:b`;
    await redis.set(b, "7"); // a counter without an expiry (written by hand)
    const counts = await Promise.all([
      counter.count(a, 60_000),
      counter.count(a, 60_000),
      counter.count(b, 30_000),
      counter.count(a, 60_000),
      counter.count(b, 30_000),
    ]);
    expect(counts.map((c) => c.current)).toEqual([1, 2, 8, 3, 9]);
    expect(await redis.pttl(b)).toBeGreaterThan(0);
    expect(await redis.pttl(b)).toBeLessThanOrEqual(30_000);
  });

  it("admits exactly the budget of a concurrent burst through the API, and 429s the rest", async () => {
    const project = await createProjectViaApi(t.app, "burst");
    const answers = await Promise.all(
      Array.from({ length: SUBMIT_PER_MIN + 10 }, () =>
        t.app.inject({
          method: "POST",
          url: "/api/runs",
          headers: auth(project.apiKey),
          payload: { recording: sampleRecording() },
        }),
      ),
    );
    const accepted = answers.filter((a) => a.statusCode === 202);
    const limited = answers.filter((a) => a.statusCode === 429);
    expect(accepted).toHaveLength(SUBMIT_PER_MIN);
    expect(limited).toHaveLength(10);
    for (const answer of limited) {
      expect(answer.json().error.code).toBe("rate_limited");
      expect(Number(answer.headers["retry-after"])).toBeGreaterThan(0);
    }
    const remaining = accepted.map((a) => Number(a.headers["ratelimit-remaining"])).sort((x, y) => x - y);
    expect(remaining).toEqual(Array.from({ length: SUBMIT_PER_MIN }, (_, i) => i));
  });
});

describe("security headers", () => {
  it("are exactly the ones @fastify/helmet sets with the same options", async () => {
    const probe = Fastify();
    await probe.register(fastifyHelmet, {
      contentSecurityPolicy: { useDefaults: false, directives: API_CSP_DIRECTIVES },
      frameguard: { action: "deny" },
    });
    probe.get("/", async () => "ok");
    const plain = Fastify();
    plain.get("/", async () => "ok");
    const [withHelmet, without] = await Promise.all([probe.inject("/"), plain.inject("/")]);
    await Promise.all([probe.close(), plain.close()]);
    const added = Object.fromEntries(Object.entries(withHelmet.headers).filter(([name]) => !(name in without.headers)));
    expect(Object.keys(added).length).toBeGreaterThanOrEqual(10);
    expect(securityHeaders()).toEqual(added);

    const answer = await t.app.inject({ method: "GET", url: "/api/health" });
    for (const [name, value] of Object.entries(added)) expect(answer.headers[name], name).toBe(value);
  });
});

describe("the submission's 202", () => {
  it("has exactly the fields and types runResponse names, new or replayed", async () => {
    const project = await createProjectViaApi(t.app, "reply");
    const submit = () =>
      t.app.inject({
        method: "POST",
        url: "/api/runs",
        headers: { ...auth(project.apiKey), "idempotency-key": "reply-1" },
        payload: { recording: sampleRecording(), variables: { PASSWORD: "pw" }, options: { screenshots: "off" } },
      });
    const created = await submit();
    expect(created.statusCode).toBe(202);
    expect(() => runResponse.strict().parse(created.json())).not.toThrow();
    expect(created.json().variables).toEqual(["PASSWORD"]);
    expect(created.body).not.toContain('"pw"');
    const replayed = await submit();
    expect(replayed.statusCode).toBe(202);
    expect(replayed.headers["idempotent-replayed"]).toBe("true");
    expect(replayed.json()).toEqual(created.json());
  });
});
