/**
 * API keys through the API on real Postgres and Redis: create (the secret once), list (never the
 * secret), scopes (refused naming the scope; a key cannot give more than it has), rotation with a
 * grace period, revocation and expiry with their own error codes, and lastUsedAt written in
 * batches.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { API_SCOPES } from "@conveyor/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, createProjectViaApi, createTestApp, sampleRecording, type TestApp } from "./helpers.ts";

let t: TestApp;
let owner: { id: string; apiKey: string };
let other: { id: string; apiKey: string };

beforeAll(async () => {
  t = await createTestApp("keys", { apiKeyCacheTtlMs: 5000, keyUsageFlushMs: 200 });
  owner = await createProjectViaApi(t.app, "owner");
  other = await createProjectViaApi(t.app, "other");
});

afterAll(async () => {
  await t?.close();
});

function call(method: "GET" | "POST" | "DELETE" | "PATCH", url: string, key: string, payload?: object) {
  return t.app.inject({ method, url, headers: auth(key), ...(payload === undefined ? {} : { payload }) });
}

async function createKey(key: string, body: Record<string, unknown>) {
  const response = await call("POST", "/api/keys", key, body);
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as { key: { id: string; scopes: string[]; prefix: string }; secret: string };
}

describe("creating and listing keys", () => {
  it("shows the secret once, and lists keys without it", async () => {
    const created = await createKey(owner.apiKey, { name: "ci", scopes: ["runs:read", "runs:write"] });
    expect(created.secret).toMatch(/^cvk_/);
    expect(created.key).toMatchObject({ name: "ci", scopes: ["runs:read", "runs:write"], status: "active" });
    expect(created.secret.startsWith(created.key.prefix)).toBe(true);

    const list = await call("GET", "/api/keys", owner.apiKey);
    expect(list.statusCode).toBe(200);
    expect(list.body).not.toContain(created.secret);
    expect(list.body).not.toContain(owner.apiKey);
    const names = list.json().items.map((key: { name: string }) => key.name);
    expect(names).toEqual(["ci", "default"]);
    const first = list.json().items.find((key: { name: string }) => key.name === "default");
    expect(first.scopes).toEqual([...API_SCOPES]);
    // Another project's list does not have them.
    const foreign = await call("GET", "/api/keys", other.apiKey);
    expect(foreign.json().items.map((key: { id: string }) => key.id)).not.toContain(created.key.id);
  });

  it("defaults to the calling key's scopes, and refuses an expiry in the past", async () => {
    const narrow = await createKey(owner.apiKey, { name: "narrow", scopes: ["runs:read", "keys:write"] });
    const child = await createKey(narrow.secret, { name: "child" });
    expect(child.key.scopes).toEqual(["runs:read", "keys:write"]);
    const past = await call("POST", "/api/keys", owner.apiKey, { name: "old", expiresAt: "2020-01-01T00:00:00Z" });
    expect(past.statusCode).toBe(400);
    expect(past.json().error.message).toMatch(/^body\.expiresAt: must be in the future/);
  });
});

describe("scopes", () => {
  it("refuses a route a key lacks the scope for, naming the scope", async () => {
    const reader = await createKey(owner.apiKey, { name: "reader", scopes: ["runs:read"] });
    expect((await call("GET", "/api/runs", reader.secret)).statusCode).toBe(200);
    const submit = await call("POST", "/api/runs", reader.secret, { recording: sampleRecording() });
    expect(submit.statusCode).toBe(403);
    expect(submit.json().error).toMatchObject({
      code: "forbidden",
      message: expect.stringContaining("lacks the scope runs:write"),
      details: { scope: "runs:write" },
    });
    for (const [method, url, scope] of [
      ["GET", "/api/recordings", "recordings:read"],
      ["POST", "/api/recordings", "recordings:write"],
      ["GET", "/api/keys", "keys:read"],
      ["POST", "/api/keys", "keys:write"],
    ] as const) {
      const response = await call(method, url, reader.secret, method === "POST" ? { name: "x" } : undefined);
      expect(response.statusCode, `${method} ${url}`).toBe(403);
      expect(response.json().error.details.scope).toBe(scope);
    }
  });

  it("never lets a key make a key with more scopes than it has", async () => {
    const limited = await createKey(owner.apiKey, { name: "limited", scopes: ["keys:write", "runs:read"] });
    const escalate = await call("POST", "/api/keys", limited.secret, { name: "escalated", scopes: ["runs:write"] });
    expect(escalate.statusCode).toBe(403);
    expect(escalate.json().error.message).toMatch(
      /^body\.scopes: a key cannot give scopes it lacks itself \(runs:write\)/,
    );
    // Nor rotate one that has more.
    const wide = await createKey(owner.apiKey, { name: "wide" });
    const rotate = await call("POST", `/api/keys/${wide.key.id}/rotate`, limited.secret, {});
    expect(rotate.statusCode).toBe(403);
  });
});

describe("rotation, revocation, expiry", () => {
  it("rotates: a new secret at once, the old one valid until the grace period ends", async () => {
    const key = await createKey(owner.apiKey, { name: "rotating" });
    const rotated = await call("POST", `/api/keys/${key.key.id}/rotate`, owner.apiKey, { gracePeriodSeconds: 2 });
    expect(rotated.statusCode).toBe(201);
    const body = rotated.json();
    expect(body.secret).not.toBe(key.secret);
    expect(body.key).toMatchObject({ name: "rotating", status: "active" });
    expect(body.previous).toMatchObject({ id: key.key.id, replacedBy: body.key.id });
    expect(new Date(body.previous.expiresAt).getTime()).toBeGreaterThan(Date.now());
    expect((await call("GET", "/api/runs", key.secret)).statusCode).toBe(200);
    expect((await call("GET", "/api/runs", body.secret)).statusCode).toBe(200);
    await sleep(2200);
    const old = await call("GET", "/api/runs", key.secret);
    expect(old.statusCode).toBe(401);
    expect(old.json().error.code).toBe("key_expired");
    expect((await call("GET", "/api/runs", body.secret)).statusCode).toBe(200);
    const tooLong = await call("POST", `/api/keys/${body.key.id}/rotate`, owner.apiKey, {
      gracePeriodSeconds: 8 * 24 * 3600,
    });
    expect(tooLong.statusCode).toBe(400);
  });

  it("revokes at once, with its own error code; another project cannot revoke it", async () => {
    const key = await createKey(owner.apiKey, { name: "doomed" });
    expect((await call("GET", "/api/runs", key.secret)).statusCode).toBe(200); // now cached
    expect((await call("DELETE", `/api/keys/${key.key.id}`, other.apiKey)).statusCode).toBe(404);
    expect((await call("DELETE", `/api/keys/${key.key.id}`, owner.apiKey)).statusCode).toBe(204);
    const refused = await call("GET", "/api/runs", key.secret);
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error.code).toBe("key_revoked");
    expect((await call("DELETE", `/api/keys/${key.key.id}`, owner.apiKey)).statusCode).toBe(204);
    const list = await call("GET", "/api/keys", owner.apiKey);
    expect(list.json().items.find((item: { id: string }) => item.id === key.key.id)).toMatchObject({
      status: "revoked",
    });
    const rotateRevoked = await call("POST", `/api/keys/${key.key.id}/rotate`, owner.apiKey, {});
    expect(rotateRevoked.statusCode).toBe(409);
  });

  it("refuses an expired key with key_expired", async () => {
    const expiresAt = Date.now() + 3000;
    const key = await createKey(owner.apiKey, { name: "short", expiresAt: new Date(expiresAt).toISOString() });
    const before = await call("GET", "/api/runs", key.secret);
    // Accepted before it expires (asserted only while surely before: a loaded machine may be slow to get here).
    if (Date.now() < expiresAt - 500) expect(before.statusCode).toBe(200);
    await sleep(Math.max(0, expiresAt + 100 - Date.now()));
    const refused = await call("GET", "/api/runs", key.secret);
    expect(refused.statusCode).toBe(401);
    expect(refused.json().error.code).toBe("key_expired");
  });
});

describe("lastUsedAt", () => {
  it("is written in batches, not per request", async () => {
    // A flush interval longer than the test: requests alone never write; the flush on close does.
    const quiet = await createTestApp("keys-usage", { keyUsageFlushMs: 600_000 });
    try {
      const project = await createProjectViaApi(quiet.app, "usage");
      const lastUsed = async () =>
        (
          await quiet.db.query<{ last_used_at: Date | null }>(
            "select last_used_at from api_keys where project_id = $1",
            [project.id],
          )
        )[0]?.last_used_at ?? null;
      const usedFrom = Date.now();
      for (let i = 0; i < 30; i++) {
        const response = await quiet.app.inject({ method: "GET", url: "/api/runs", headers: auth(project.apiKey) });
        expect(response.statusCode).toBe(200);
      }
      expect(await lastUsed()).toBeNull();
      await quiet.app.close();
      const written = await lastUsed();
      expect(written).not.toBeNull();
      // The time of a use: not before the first request, not after the flush (no wall-clock bound).
      expect(new Date(written ?? 0).getTime()).toBeGreaterThanOrEqual(usedFrom - 1);
      expect(new Date(written ?? 0).getTime()).toBeLessThanOrEqual(Date.now() + 1);
    } finally {
      await quiet.close();
    }
  });
});
