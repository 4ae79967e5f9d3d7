/**
 * Dashboard sessions: POST/GET/DELETE /api/session, the cookie standing in for the bearer key on
 * project routes (same scopes, CSRF on writes), operator sessions on admin routes, a revoked key
 * ending its sessions, and wrong credentials throttled. Real Postgres and Redis through `app.inject`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ADMIN_TOKEN,
  auth,
  createProjectViaApi,
  createTestApp,
  sampleRecording,
  type TestApp,
  uniquePrefix,
} from "./helpers.ts";

let t: TestApp;
let owner: { id: string; apiKey: string };

beforeAll(async () => {
  t = await createTestApp("session");
  owner = await createProjectViaApi(t.app, "session owner");
});

afterAll(async () => {
  await t?.close();
});

interface SignedIn {
  cookie: string;
  csrf: string;
  setCookie: string;
  body: Record<string, unknown>;
}

async function signIn(payload: Record<string, unknown>, app = t.app): Promise<SignedIn> {
  const response = await app.inject({ method: "POST", url: "/api/session", payload });
  expect(response.statusCode, response.body).toBe(201);
  const setCookie = String(response.headers["set-cookie"]);
  const cookie = setCookie.split(";")[0] ?? "";
  return { cookie, csrf: response.json().csrfToken, setCookie, body: response.json() };
}

describe("POST /api/session", () => {
  it("trades an API key for an httpOnly, SameSite=Strict session cookie and says whose it is", async () => {
    const session = await signIn({ apiKey: owner.apiKey });
    expect(session.setCookie).toMatch(/^conveyor_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(session.body).toMatchObject({
      kind: "project",
      project: { id: owner.id, name: "session owner" },
      keyId: expect.stringMatching(/^key_/),
      scopes: expect.arrayContaining(["runs:read", "runs:write"]),
      csrfToken: expect.any(String),
    });
    // The cookie holds a random id, never the key; Redis holds the id's hash, never the id.
    expect(session.setCookie).not.toContain(owner.apiKey);
    const stored = await t.redis.keys(`${t.prefix}:sessions:*`);
    expect(stored.length).toBeGreaterThan(0);
    const id = session.cookie.split("=")[1] ?? "";
    for (const key of stored) {
      expect(key).not.toContain(id);
      expect(await t.redis.get(key)).not.toContain(owner.apiKey);
    }
    const ttl = await t.redis.pttl(stored[0] ?? "");
    expect(ttl).toBeGreaterThan(11 * 3_600_000);
    expect(ttl).toBeLessThanOrEqual(12 * 3_600_000);
  });

  it("marks the cookie Secure when the request came over HTTPS (behind TRUST_PROXY)", async () => {
    const proxied = await createTestApp("session-proxy", { trustProxy: true });
    try {
      const project = await createProjectViaApi(proxied.app, "proxied");
      const response = await proxied.app.inject({
        method: "POST",
        url: "/api/session",
        headers: { "x-forwarded-proto": "https" },
        payload: { apiKey: project.apiKey },
      });
      expect(response.statusCode).toBe(201);
      expect(String(response.headers["set-cookie"])).toMatch(/; Secure$/);
    } finally {
      await proxied.close();
    }
  });

  it("answers 400 naming the field for bad input", async () => {
    for (const [payload, field] of [
      [{}, "body.apiKey"],
      [{ apiKey: "" }, "body.apiKey"],
      [{ apiKey: 42 }, "body.apiKey"],
      [{ apiKey: owner.apiKey, adminToken: ADMIN_TOKEN }, "body.adminToken"],
      [{ apiKey: owner.apiKey, password: "x" }, "body"],
    ] as const) {
      const response = await t.app.inject({ method: "POST", url: "/api/session", payload });
      expect(response.statusCode, JSON.stringify(payload)).toBe(400);
      expect(response.json().error.details.fields[0].field, JSON.stringify(payload)).toBe(field);
      expect(response.headers["set-cookie"]).toBeUndefined();
    }
  });

  it("answers a wrong key or admin token with 401 and no cookie", async () => {
    for (const payload of [{ apiKey: "cvk_not-a-key" }, { apiKey: "nonsense" }, { adminToken: `${ADMIN_TOKEN}x` }]) {
      const response = await t.app.inject({ method: "POST", url: "/api/session", payload });
      expect(response.statusCode, JSON.stringify(payload)).toBe(401);
      expect(response.json().error.code).toBe("unauthorized");
      expect(response.headers["set-cookie"]).toBeUndefined();
    }
  });

  it("throttles wrong credentials as for a bearer token", async () => {
    const throttled = await createTestApp("session-throttle", {
      authThrottle: { limit: 3, windowMs: 60_000, lockoutMs: 60_000 },
    });
    try {
      const project = await createProjectViaApi(throttled.app, "throttled");
      const codes: number[] = [];
      for (let i = 0; i < 4; i++) {
        const response = await throttled.app.inject({
          method: "POST",
          url: "/api/session",
          payload: { apiKey: "cvk_wrong" },
        });
        codes.push(response.statusCode);
      }
      // Three failures allowed (AUTH_FAILURE_LIMIT), the fourth locks the address out.
      expect(codes).toEqual([401, 401, 401, 429]);
      // Locked out on the bearer path too, and a right key is refused meanwhile.
      const bearer = await throttled.app.inject({ method: "GET", url: "/api/runs", headers: auth("cvk_wrong") });
      expect(bearer.statusCode).toBe(429);
      const right = await throttled.app.inject({
        method: "POST",
        url: "/api/session",
        payload: { apiKey: project.apiKey },
      });
      expect(right.statusCode).toBe(429);
      expect(right.json().error.code).toBe("auth_throttled");
      expect(right.headers["retry-after"]).toBeDefined();
    } finally {
      await throttled.close();
    }
  });
});

describe("a key's session on project routes", () => {
  it("reads like the bearer key, and sees only its own project", async () => {
    const session = await signIn({ apiKey: owner.apiKey });
    const created = await t.app.inject({
      method: "POST",
      url: "/api/recordings",
      headers: auth(owner.apiKey),
      payload: sampleRecording("session reads"),
    });
    const list = await t.app.inject({ method: "GET", url: "/api/recordings", headers: { cookie: session.cookie } });
    expect(list.statusCode).toBe(200);
    expect(list.json().items.map((r: { id: string }) => r.id)).toContain(created.json().id);

    const stranger = await createProjectViaApi(t.app, "stranger");
    const strangerSession = await signIn({ apiKey: stranger.apiKey });
    const other = await t.app.inject({
      method: "GET",
      url: `/api/recordings/${created.json().id}`,
      headers: { cookie: strangerSession.cookie },
    });
    expect(other.statusCode).toBe(404);
  });

  it("needs the CSRF token on writes; a bearer request needs none", async () => {
    const session = await signIn({ apiKey: owner.apiKey });
    const payload = sampleRecording("csrf");
    const without = await t.app.inject({
      method: "POST",
      url: "/api/recordings",
      headers: { cookie: session.cookie },
      payload,
    });
    expect(without.statusCode).toBe(403);
    expect(without.json().error).toMatchObject({ code: "forbidden", details: { header: "x-csrf-token" } });
    const wrong = await t.app.inject({
      method: "POST",
      url: "/api/recordings",
      headers: { cookie: session.cookie, "x-csrf-token": `${session.csrf}x` },
      payload,
    });
    expect(wrong.statusCode).toBe(403);
    // Another session's token is no good either.
    const second = await signIn({ apiKey: owner.apiKey });
    const crossed = await t.app.inject({
      method: "POST",
      url: "/api/recordings",
      headers: { cookie: session.cookie, "x-csrf-token": second.csrf },
      payload,
    });
    expect(crossed.statusCode).toBe(403);
    const right = await t.app.inject({
      method: "POST",
      url: "/api/recordings",
      headers: { cookie: session.cookie, "x-csrf-token": session.csrf },
      payload,
    });
    expect(right.statusCode).toBe(201);
    const bearer = await t.app.inject({ method: "POST", url: "/api/recordings", headers: auth(owner.apiKey), payload });
    expect(bearer.statusCode).toBe(201);
  });

  it("has the key's scopes, no more", async () => {
    const readOnly = await t.app.inject({
      method: "POST",
      url: "/api/keys",
      headers: auth(owner.apiKey),
      payload: { name: "read only", scopes: ["runs:read"] },
    });
    const session = await signIn({ apiKey: readOnly.json().secret });
    expect(session.body.scopes).toEqual(["runs:read"]);
    const runs = await t.app.inject({ method: "GET", url: "/api/runs", headers: { cookie: session.cookie } });
    expect(runs.statusCode).toBe(200);
    const recordings = await t.app.inject({
      method: "GET",
      url: "/api/recordings",
      headers: { cookie: session.cookie },
    });
    expect(recordings.statusCode).toBe(403);
    expect(recordings.json().error.details.scope).toBe("recordings:read");
  });

  it("ends when its key is revoked", async () => {
    const made = await t.app.inject({
      method: "POST",
      url: "/api/keys",
      headers: auth(owner.apiKey),
      payload: { name: "to revoke" },
    });
    const session = await signIn({ apiKey: made.json().secret });
    const before = await t.app.inject({ method: "GET", url: "/api/runs", headers: { cookie: session.cookie } });
    expect(before.statusCode).toBe(200);
    const revoked = await t.app.inject({
      method: "DELETE",
      url: `/api/keys/${made.json().key.id}`,
      headers: auth(owner.apiKey),
    });
    expect(revoked.statusCode).toBeLessThan(300);
    const after = await t.app.inject({ method: "GET", url: "/api/runs", headers: { cookie: session.cookie } });
    expect(after.statusCode).toBe(401);
    expect(after.json().error.code).toBe("key_revoked");
    // The session itself is gone: the next request finds no session at all.
    const again = await t.app.inject({ method: "GET", url: "/api/session", headers: { cookie: session.cookie } });
    expect(again.statusCode).toBe(401);
    expect(again.json().error.code).toBe("unauthorized");
  });

  it("is not an operator: admin routes refuse it", async () => {
    const session = await signIn({ apiKey: owner.apiKey });
    const health = await t.app.inject({
      method: "GET",
      url: "/api/health/detailed",
      headers: { cookie: session.cookie },
    });
    expect(health.statusCode).toBe(401);
  });
});

describe("an operator session", () => {
  it("opens admin routes, needs CSRF on their writes, and has no project", async () => {
    const session = await signIn({ adminToken: ADMIN_TOKEN });
    expect(session.body).toMatchObject({ kind: "operator", project: null, keyId: null, scopes: [] });
    const health = await t.app.inject({
      method: "GET",
      url: "/api/health/detailed",
      headers: { cookie: session.cookie },
    });
    expect(health.statusCode).toBe(200);
    const noCsrf = await t.app.inject({
      method: "POST",
      url: "/api/projects",
      headers: { cookie: session.cookie },
      payload: { name: "by the operator" },
    });
    expect(noCsrf.statusCode).toBe(403);
    const created = await t.app.inject({
      method: "POST",
      url: "/api/projects",
      headers: { cookie: session.cookie, "x-csrf-token": session.csrf },
      payload: { name: "by the operator" },
    });
    expect(created.statusCode).toBe(201);
    const runs = await t.app.inject({ method: "GET", url: "/api/runs", headers: { cookie: session.cookie } });
    expect(runs.statusCode).toBe(403);
    expect(runs.json().error.message).toMatch(/operator session has no project/);
  });

  it("ends when ADMIN_TOKEN changes", async () => {
    const first = await signIn({ adminToken: ADMIN_TOKEN });
    // A second app on the same Redis prefix, as an API replica restarted with a new token.
    const rotated = await createTestApp("session-rotated", {
      adminToken: "another-admin-token-0123456789",
      queuePrefix: t.prefix,
    });
    try {
      const response = await rotated.app.inject({
        method: "GET",
        url: "/api/health/detailed",
        headers: { cookie: first.cookie },
      });
      expect(response.statusCode).toBe(401);
    } finally {
      await rotated.app.close();
      await rotated.runQueue.close();
      await rotated.inspectQueue.close();
      await rotated.redis.quit();
      await rotated.db.drop();
    }
  });
});

describe("GET and DELETE /api/session", () => {
  it("GET says who is signed in; DELETE signs out everywhere", async () => {
    const session = await signIn({ apiKey: owner.apiKey });
    const who = await t.app.inject({ method: "GET", url: "/api/session", headers: { cookie: session.cookie } });
    expect(who.statusCode).toBe(200);
    expect(who.json()).toMatchObject({ kind: "project", project: { id: owner.id }, csrfToken: session.csrf });
    expect(who.headers["cache-control"]).toBe("no-store");

    const noCsrf = await t.app.inject({ method: "DELETE", url: "/api/session", headers: { cookie: session.cookie } });
    expect(noCsrf.statusCode).toBe(403);
    const out = await t.app.inject({
      method: "DELETE",
      url: "/api/session",
      headers: { cookie: session.cookie, "x-csrf-token": session.csrf },
    });
    expect(out.statusCode).toBe(204);
    expect(String(out.headers["set-cookie"])).toMatch(
      /^conveyor_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/,
    );
    for (const url of ["/api/session", "/api/runs"]) {
      const after = await t.app.inject({ method: "GET", url, headers: { cookie: session.cookie } });
      expect(after.statusCode, url).toBe(401);
      expect(after.json().error.message).toMatch(/sign in again/);
    }
  });

  it("GET without a session answers 401; an invented cookie is not a session", async () => {
    const none = await t.app.inject({ method: "GET", url: "/api/session" });
    expect(none.statusCode).toBe(401);
    const invented = await t.app.inject({
      method: "GET",
      url: "/api/runs",
      headers: { cookie: `conveyor_session=${"a".repeat(43)}` },
    });
    expect(invented.statusCode).toBe(401);
  });

  it("a bearer header wins over a cookie", async () => {
    const stranger = await createProjectViaApi(t.app, `bearer wins ${uniquePrefix("x")}`);
    const session = await signIn({ apiKey: owner.apiKey });
    const response = await t.app.inject({
      method: "POST",
      url: "/api/recordings",
      headers: { cookie: session.cookie, ...auth(stranger.apiKey) },
      payload: sampleRecording("bearer wins"),
    });
    // No CSRF header needed, and the recording is the bearer key's project's.
    expect(response.statusCode).toBe(201);
    const mine = await t.app.inject({
      method: "GET",
      url: `/api/recordings/${response.json().id}`,
      headers: auth(stranger.apiKey),
    });
    expect(mine.statusCode).toBe(200);
  });

  it("slides: each use pushes the expiry further", async () => {
    const short = await createTestApp("session-ttl", { sessionTtlMs: 60_000 });
    try {
      const project = await createProjectViaApi(short.app, "short");
      const session = await signIn({ apiKey: project.apiKey }, short.app);
      const [key] = await short.redis.keys(`${short.prefix}:sessions:*`);
      await short.redis.pexpire(key ?? "", 1_000);
      const used = await short.app.inject({ method: "GET", url: "/api/runs", headers: { cookie: session.cookie } });
      expect(used.statusCode).toBe(200);
      expect(await short.redis.pttl(key ?? "")).toBeGreaterThan(50_000);
    } finally {
      await short.close();
    }
  });
});
