/**
 * The security kind of route test, generated for EVERY registered route (a route added later is
 * covered without touching this file): no credentials, a wrong one, another project's key, and a
 * key that lacks the route's scope. Real Postgres and Redis through `app.inject`.
 */
import { API_SCOPES, type ApiScope } from "@conveyor/core";
import type { RouteOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, auth, createProjectViaApi, createTestApp, sampleRecording, type TestApp } from "./helpers.ts";

interface Route {
  method: string;
  url: string;
  auth: string;
  scope: ApiScope | undefined;
}

const collected: RouteOptions[] = [];
let t: TestApp;
let owner: { id: string; apiKey: string };
let stranger: { id: string; apiKey: string };
/** Ids of the owner's things, to aim another project's key at. */
const ids: Record<string, string> = {};

beforeAll(async () => {
  t = await createTestApp("security", { onRoute: (route) => void collected.push(route) });
  owner = await createProjectViaApi(t.app, "owner");
  stranger = await createProjectViaApi(t.app, "stranger");
  const recording = await t.app.inject({
    method: "POST",
    url: "/api/recordings",
    headers: auth(owner.apiKey),
    payload: sampleRecording(),
  });
  ids.recording = recording.json().id;
  const run = await t.app.inject({
    method: "POST",
    url: "/api/runs",
    headers: auth(owner.apiKey),
    payload: { recordingId: ids.recording, variables: { PASSWORD: "pw" } },
  });
  ids.run = run.json().id;
  const key = await t.app.inject({
    method: "POST",
    url: "/api/keys",
    headers: auth(owner.apiKey),
    payload: { name: "k" },
  });
  ids.apiKey = key.json().key.id;
  ids.project = owner.id;
  const suite = await t.app.inject({
    method: "POST",
    url: "/api/suites",
    headers: auth(owner.apiKey),
    payload: { name: "owner's", recordingIds: [ids.recording] },
  });
  ids.suite = suite.json().id;
  const suiteRun = await t.app.inject({
    method: "POST",
    url: `/api/suites/${ids.suite}/runs`,
    headers: auth(owner.apiKey),
    payload: {},
  });
  ids.suiteRun = suiteRun.json().id;
  const schedule = await t.app.inject({
    method: "POST",
    url: "/api/schedules",
    headers: auth(owner.apiKey),
    payload: { name: "owner's", recordingId: ids.recording, everySeconds: 3600 },
  });
  ids.schedule = schedule.json().id;
  const channel = await t.app.inject({
    method: "POST",
    url: "/api/channels",
    headers: auth(owner.apiKey),
    payload: { type: "webhook", name: "owner's", url: "https://hooks.example.com/owner" },
  });
  ids.channel = channel.json().channel.id;
  const delivery = await t.app.inject({
    method: "POST",
    url: `/api/channels/${ids.channel}/test`,
    headers: auth(owner.apiKey),
  });
  ids.delivery = delivery.json().id;
  const rule = await t.app.inject({
    method: "POST",
    url: "/api/alert-rules",
    headers: auth(owner.apiKey),
    payload: { name: "owner's", events: ["run.failed"], channelIds: [ids.channel] },
  });
  ids.alertRule = rule.json().id;
  const window = await t.app.inject({
    method: "POST",
    url: "/api/maintenance-windows",
    headers: auth(owner.apiKey),
    payload: { endsAt: new Date(Date.now() + 3_600_000).toISOString(), mode: "silence" },
  });
  ids.maintenanceWindow = window.json().id;
});

afterAll(async () => {
  await t?.close();
});

function routes(): Route[] {
  const seen = new Map<string, Route>();
  for (const route of collected) {
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      if (method === "HEAD" || route.url.startsWith("/docs")) continue;
      seen.set(`${method} ${route.url}`, {
        method,
        url: route.url,
        auth: route.config?.auth ?? "project",
        scope: route.config?.scope,
      });
    }
  }
  return [...seen.values()];
}

/** Which of the owner's ids goes in a route's `:id`, by the route's prefix (first match wins). */
const ID_KINDS: [prefix: string, kind: string][] = [
  ["/api/runs", "run"],
  ["/api/suite-runs", "suiteRun"],
  ["/api/suites", "suite"],
  ["/api/schedules", "schedule"],
  ["/api/channels", "channel"],
  ["/api/deliveries", "delivery"],
  ["/api/alert-rules", "alertRule"],
  ["/api/maintenance-windows", "maintenanceWindow"],
  ["/api/recordings", "recording"],
  ["/api/keys", "apiKey"],
  ["/api/projects", "project"],
];

/** The route's URL with the owner's ids in it (a run id for :id under /api/runs, and so on). */
function concrete(url: string): string {
  const kind = ID_KINDS.find(([prefix]) => url.startsWith(prefix))?.[1] ?? "run";
  return url.replace(":id", ids[kind] ?? "x").replace("*", "1/action-1-failure.png");
}

/** Valid bodies of routes that need one, so another project's key meets the 404, not a 400. */
const BODIES: Record<string, () => unknown> = {
  "POST /api/recordings/:id/quarantine": () => ({
    reason: "security test",
    expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
  }),
};

/** Routes that answer a stream (Server-Sent Events) once authorized: never ending, so read briefly. */
const STREAMS = new Set(["GET /api/stream", "GET /api/runs/:id/stream"]);
let listening: string | undefined;

/** A stream's status and what it sent within half a second, as inject's response would give them. */
async function sendToStream(route: Route, token: string | undefined) {
  listening ??= await t.app.listen({ port: 0, host: "127.0.0.1" });
  const controller = new AbortController();
  const response = await fetch(`${listening}${concrete(route.url)}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  let body = "";
  const reader = response.body?.getReader();
  const deadline = Date.now() + 500;
  try {
    while (reader && Date.now() < deadline) {
      const chunk = await Promise.race([
        reader.read(),
        new Promise<{ done: true; value: undefined }>((resolve) =>
          setTimeout(() => resolve({ done: true, value: undefined }), Math.max(0, deadline - Date.now())),
        ),
      ]);
      if (chunk.done) break;
      body += new TextDecoder().decode(chunk.value);
    }
  } finally {
    controller.abort();
  }
  return { statusCode: response.status, body, json: () => JSON.parse(body) };
}

function send(route: Route, token: string | undefined) {
  if (STREAMS.has(`${route.method} ${route.url}`)) return sendToStream(route, token);
  const body = BODIES[`${route.method} ${route.url}`]?.() ?? {};
  return t.app.inject({
    method: route.method as "GET",
    url: concrete(route.url),
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    ...(route.method === "GET" || route.method === "DELETE" ? {} : { payload: body }),
  });
}

describe("every route", () => {
  it("is listed, and every project route names the scope it needs", () => {
    const all = routes();
    expect(all.length).toBeGreaterThan(20);
    const unscoped = all.filter((route) => route.auth === "project" && route.scope === undefined);
    expect(unscoped.map((route) => `${route.method} ${route.url}`)).toEqual([]);
  });

  it("refuses a request without credentials (project and admin routes)", async () => {
    for (const route of routes().filter((r) => r.auth === "project" || r.auth === "admin")) {
      const response = await send(route, undefined);
      expect(response.statusCode, `${route.method} ${route.url}`).toBe(401);
      expect(response.json().error.code).toBe("unauthorized");
    }
  });

  it("refuses a wrong token, and a project key on admin routes", async () => {
    for (const route of routes().filter((r) => r.auth === "project" || r.auth === "admin")) {
      for (const token of ["cvk_not-a-key", "nonsense", ADMIN_TOKEN.slice(0, -1)]) {
        const response = await send(route, token);
        expect(response.statusCode, `${route.method} ${route.url} with ${token}`).toBe(401);
      }
      if (route.auth === "admin") {
        const withKey = await send(route, owner.apiKey);
        expect(withKey.statusCode, `${route.method} ${route.url} with an API key`).toBe(401);
      }
    }
  });

  it("answers another project's key with 404 (ids) or an empty list, never the owner's data", async () => {
    for (const route of routes().filter((r) => r.auth === "project")) {
      const response = await send(route, stranger.apiKey);
      const where = `${route.method} ${route.url}`;
      expect(response.statusCode, where).toBeLessThan(500);
      if (route.url.includes(":id")) {
        expect(response.statusCode, where).toBe(404);
      } else if (route.method === "GET") {
        expect(response.statusCode, where).toBe(200);
        for (const id of Object.values(ids)) expect(response.body, where).not.toContain(id);
      }
    }
  });

  it("refuses a key that lacks the route's scope with 403 naming it", async () => {
    for (const route of routes().filter((r) => r.auth === "project" && r.scope !== undefined)) {
      const others = API_SCOPES.filter((scope) => scope !== route.scope);
      const created = await t.app.inject({
        method: "POST",
        url: "/api/keys",
        headers: auth(owner.apiKey),
        payload: { name: `without ${route.scope}`, scopes: others },
      });
      expect(created.statusCode).toBe(201);
      const response = await send(route, created.json().secret);
      expect(response.statusCode, `${route.method} ${route.url}`).toBe(403);
      expect(response.json().error).toMatchObject({ code: "forbidden", details: { scope: route.scope } });
    }
  });
});
