/**
 * API-key caching (API_KEY_CACHE_TTL_MS): a successful lookup is trusted for the TTL, so requests
 * skip a database round trip; a revoked key stops working once the TTL has passed; unknown keys
 * are never remembered. Against real Postgres: keys are revoked with SQL, as an operator would.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { createTestClock } from "@conveyor/testing/clock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyCache } from "../src/plugins/api-key-cache.ts";
import { auth, createProjectViaApi, createTestApp, type TestApp } from "./helpers.ts";

const TTL_MS = 1500;

describe("API-key cache in the API", () => {
  let cached: TestApp;
  let uncached: TestApp;

  beforeAll(async () => {
    cached = await createTestApp("authcache", { apiKeyCacheTtlMs: TTL_MS });
    uncached = await createTestApp("authnocache");
  });

  afterAll(async () => {
    await cached?.close();
    await uncached?.close();
  });

  const listRuns = (t: TestApp, apiKey: string) =>
    t.app.inject({ method: "GET", url: "/api/runs", headers: auth(apiKey) });
  const revoke = (t: TestApp, projectId: string) =>
    t.db.query("update api_keys set revoked_at = now() where project_id = $1", [projectId]);

  it("trusts a key it just looked up for the TTL, then asks the database again", async () => {
    const project = await createProjectViaApi(cached.app, "cached");
    expect((await listRuns(cached, project.apiKey)).statusCode).toBe(200);
    await revoke(cached, project.id);
    const revokedAt = Date.now();
    // Served from memory: the database already says revoked. (Asserted only while surely within the TTL.)
    const within = await listRuns(cached, project.apiKey);
    if (Date.now() - revokedAt < TTL_MS / 2) expect(within.statusCode).toBe(200);
    await sleep(TTL_MS + 100);
    const after = await listRuns(cached, project.apiKey);
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ error: { code: "key_revoked" } });
  });

  it("never remembers a revoked key: one made valid again works at once", async () => {
    const project = await createProjectViaApi(cached.app, "restored");
    await revoke(cached, project.id);
    expect((await listRuns(cached, project.apiKey)).statusCode).toBe(401);
    await cached.db.query("update api_keys set revoked_at = null where project_id = $1", [project.id]);
    expect((await listRuns(cached, project.apiKey)).statusCode).toBe(200);
  });

  it("with the cache off (TTL 0), a revoked key is refused on the next request", async () => {
    const project = await createProjectViaApi(uncached.app, "uncached");
    expect((await listRuns(uncached, project.apiKey)).statusCode).toBe(200);
    await revoke(uncached, project.id);
    expect((await listRuns(uncached, project.apiKey)).statusCode).toBe(401);
  });
});

describe("ApiKeyCache", () => {
  const identity = {
    projectId: "project_1",
    keyId: "apikey_1",
    scopes: ["runs:read" as const],
    expiresAt: null,
    revokedAt: null,
  };

  it("shares one lookup among concurrent requests for the same key", async () => {
    const cache = new ApiKeyCache(10_000);
    let lookups = 0;
    const lookup = async () => {
      lookups += 1;
      await sleep(20);
      return identity;
    };
    const results = await Promise.all(Array.from({ length: 50 }, () => cache.get("hash", lookup)));
    expect(results.every((r) => r === identity)).toBe(true);
    expect(lookups).toBe(1);
    expect(await cache.get("hash", lookup)).toBe(identity);
    expect(cache.peek("hash")).toBe(identity);
    expect(lookups).toBe(1);
  });

  it("expires entries after the TTL, by its clock", async () => {
    const clock = createTestClock(1_000);
    const cache = new ApiKeyCache(5_000, 30_000, 100, clock.now);
    let lookups = 0;
    const lookup = async () => {
      lookups += 1;
      return identity;
    };
    await cache.get("hash", lookup);
    clock.advance(4_999);
    await cache.get("hash", lookup);
    expect(lookups).toBe(1);
    clock.advance(1);
    expect(cache.peek("hash")).toBeUndefined();
    await cache.get("hash", lookup);
    expect(lookups).toBe(2);
  });

  it("remembers unknown keys for a short while, so a flood of one invented key is one query", async () => {
    const clock = createTestClock(1_000);
    const cache = new ApiKeyCache(10_000, 2_000, 100, clock.now);
    let lookups = 0;
    const unknown = async () => {
      lookups += 1;
      return null;
    };
    for (let i = 0; i < 100; i++) expect(await cache.get("invented", unknown)).toBeNull();
    expect(lookups).toBe(1);
    expect(cache.isUnknown("invented")).toBe(true);
    clock.advance(2_001);
    await cache.get("invented", unknown);
    expect(lookups).toBe(2);
  });

  it("never remembers revoked keys or errors, and forget drops an entry", async () => {
    const cache = new ApiKeyCache(10_000);
    const revoked = { ...identity, revokedAt: new Date() };
    expect(await cache.get("revoked", async () => revoked)).toBe(revoked);
    expect(cache.peek("revoked")).toBeUndefined();
    await expect(
      cache.get("broken", async () => {
        throw new Error("connection lost");
      }),
    ).rejects.toThrow("connection lost");
    expect(cache.size).toBe(0);
    expect(await cache.get("broken", async () => identity)).toBe(identity);
    cache.forget("broken");
    expect(cache.size).toBe(0);
  });

  it("keeps at most maxEntries keys, dropping the oldest", async () => {
    const cache = new ApiKeyCache(10_000, 30_000, 3);
    for (const hash of ["a", "b", "c", "d"]) await cache.get(hash, async () => identity);
    expect(cache.size).toBe(3);
    let lookups = 0;
    await cache.get("a", async () => {
      lookups += 1;
      return identity;
    });
    expect(lookups).toBe(1);
  });
});
