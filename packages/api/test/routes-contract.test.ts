/**
 * What every registered route promises, walked over the app's own route list (a route added later
 * is covered without touching this file):
 * - without credentials it answers 401 in the error envelope, unless it is one of the routes
 *   listed below as deliberately public (the list is here, not read from the routes' own
 *   `config.auth`, so a route made public by mistake fails this test);
 * - it declares response schemas (a success code and the error envelope), so the OpenAPI document
 *   at /docs says what it returns;
 * - the schemas drop nothing the views return (a serialized reply keeps only what its schema names).
 * Real Postgres and Redis through `app.inject`.
 */
import { getRun, getRunActions } from "@conveyor/db";
import type { RouteOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { actionView, runView } from "../src/views.ts";
import { auth, createProjectViaApi, createTestApp, sampleRecording, type TestApp } from "./helpers.ts";

/**
 * Routes anyone may call: liveness and readiness probes, the recording format, the docs page, and
 * the dashboard's sign-in and sign-out (they take credentials in the body, or end a session).
 */
const PUBLIC_ROUTES = [
  "GET /api/health",
  "GET /api/health/ready",
  "GET /api/schemas/recording.json",
  "POST /api/session",
  "DELETE /api/session",
];
/** The OpenAPI page (@fastify/swagger-ui) and the document it shows: public, and not ours to describe. */
const isDocs = (url: string) => url === "/docs" || url.startsWith("/docs/");
/** The dashboard's static files (routes/ui.ts): public pages, not API operations. */
const isUi = (url: string) => url === "/ui" || url.startsWith("/ui/");
/** Bull Board's page and its own API (@bull-board/fastify): admin-only, and not ours to describe. */
const isBullBoard = (url: string) => url === "/admin/queues" || url.startsWith("/admin/queues/");

const METRICS_TOKEN = "metrics-token-for-the-route-walk";
const collected: RouteOptions[] = [];
let t: TestApp;

beforeAll(async () => {
  // With a metrics token, /metrics is not public either (METRICS_PUBLIC applies only without one).
  t = await createTestApp("routes-contract", {
    metricsToken: METRICS_TOKEN,
    onRoute: (route) => void collected.push(route),
  });
});

afterAll(async () => {
  await t?.close();
});

interface Route {
  method: string;
  url: string;
  options: RouteOptions;
}

function routes(): Route[] {
  const seen = new Map<string, Route>();
  for (const options of collected) {
    for (const method of Array.isArray(options.method) ? options.method : [options.method]) {
      if (method === "HEAD") continue;
      seen.set(`${method} ${options.url}`, { method, url: options.url, options });
    }
  }
  return [...seen.values()];
}

/** The route's URL with placeholder ids: authorization is decided before any id is looked at. */
function concrete(url: string): string {
  return url.replace(":id", "run_0000000000000000000000000").replace("*", "1/action-1-failure.png");
}

describe("every registered route", () => {
  it("answers 401 in the error envelope without credentials, unless it is listed as public", async () => {
    const all = routes();
    expect(all.length).toBeGreaterThan(20);
    const answeredWithoutKey: string[] = [];
    for (const route of all) {
      const name = `${route.method} ${route.url}`;
      const response = await t.app.inject({
        method: route.method as "GET",
        url: concrete(route.url),
        ...(route.method === "GET" || route.method === "DELETE" ? {} : { payload: {} }),
      });
      if (response.statusCode !== 401) {
        answeredWithoutKey.push(name);
        continue;
      }
      expect(response.json(), name).toEqual({
        error: { code: "unauthorized", message: expect.any(String), requestId: expect.any(String) },
      });
    }
    const expectedPublic = all
      .map((route) => `${route.method} ${route.url}`)
      .filter((name) => {
        const url = name.split(" ")[1] ?? "";
        return PUBLIC_ROUTES.includes(name) || isDocs(url) || isUi(url);
      });
    expect(answeredWithoutKey.sort()).toEqual(expectedPublic.sort());
    // The list is not stale: each public route exists.
    for (const name of PUBLIC_ROUTES) expect(all.map((route) => `${route.method} ${route.url}`)).toContain(name);
  });

  it("declares a success response and the error envelope", () => {
    const missing: string[] = [];
    for (const route of routes()) {
      // The docs page's routes belong to @fastify/swagger-ui; /metrics answers Prometheus text.
      if (isDocs(route.url) || isUi(route.url) || isBullBoard(route.url) || route.url === "/metrics") continue;
      const response = (route.options.schema?.response ?? {}) as Record<string, unknown>;
      const codes = Object.keys(response);
      const success = codes.some((code) => /^2\d\d$/.test(code));
      if (!success || !codes.includes("4xx") || !codes.includes("5xx")) {
        missing.push(`${route.method} ${route.url}: ${codes.join(", ") || "none"}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("is documented in the OpenAPI document with what it returns", async () => {
    const response = await t.app.inject({ method: "GET", url: "/docs/json" });
    expect(response.statusCode).toBe(200);
    const document = response.json() as {
      paths: Record<string, Record<string, { responses?: Record<string, { content?: unknown }> }>>;
    };
    const run = document.paths["/api/runs/{id}"]?.get?.responses;
    expect(Object.keys(run ?? {})).toEqual(expect.arrayContaining(["200", "4XX", "5XX"]));
    expect(JSON.stringify(run?.["200"])).toContain("actions");
    expect(JSON.stringify(run?.["4XX"])).toContain("requestId");
    for (const [path, operations] of Object.entries(document.paths)) {
      if (path === "/metrics") continue;
      for (const [method, operation] of Object.entries(operations)) {
        const codes = Object.keys(operation.responses ?? {});
        expect(
          codes.some((code) => /^2\d\d$/.test(code)),
          `${method.toUpperCase()} ${path} documents a success`,
        ).toBe(true);
      }
    }
  });
});

describe("response schemas", () => {
  it("keep every field the views return (run, its actions and events, recordings, lists)", async () => {
    const owner = await createProjectViaApi(t.app, "schemas");
    const headers = auth(owner.apiKey);
    const created = await t.app.inject({
      method: "POST",
      url: "/api/runs",
      headers,
      payload: { recording: sampleRecording(), variables: { PASSWORD: "pw" } },
    });
    expect(created.statusCode).toBe(202);
    const id = created.json().id as string;
    const stored = await getRun(t.db.db, owner.id, id);
    if (!stored) throw new Error("run not stored");
    const view = JSON.parse(JSON.stringify(runView(stored)));
    expect(created.json()).toEqual(view);

    const actions = await getRunActions(t.db.db, owner.id, id, stored.attempt);
    const got = await t.app.inject({ method: "GET", url: `/api/runs/${id}`, headers });
    expect(got.json()).toEqual({
      ...view,
      actions: JSON.parse(JSON.stringify(actions.map((a) => actionView(id, a)))),
      attempts: [],
    });

    const list = await t.app.inject({ method: "GET", url: "/api/runs", headers });
    expect(list.json()).toEqual({ items: [view], nextCursor: null });

    const events = await t.app.inject({ method: "GET", url: `/api/runs/${id}/events`, headers });
    expect(events.json().items).toEqual([
      {
        id: expect.any(Number),
        type: "queued",
        attempt: 0,
        worker: null,
        data: { priority: 5 },
        createdAt: expect.any(String),
      },
    ]);

    const recording = await t.app.inject({
      method: "POST",
      url: "/api/recordings",
      headers,
      payload: sampleRecording(),
    });
    expect(recording.statusCode).toBe(201);
    expect(Object.keys(recording.json()).sort()).toEqual(
      ["actionCount", "createdAt", "id", "name", "quarantine", "sourceFormat", "tags", "updatedAt", "warnings"].sort(),
    );
    const detail = await t.app.inject({ method: "GET", url: `/api/recordings/${recording.json().id}`, headers });
    expect(detail.json().recording.actions.length).toBe(recording.json().actionCount);
  });
});
