/**
 * The dashboard as the API serves it under /ui: the real build of packages/web (built here first
 * when missing or stale), hashed assets cached for a year, index.html revalidated, client routes
 * answered with the page, the dashboard's own Content-Security-Policy. Real Postgres and Redis
 * through `app.inject`.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UI_CSP } from "../src/routes/ui.ts";
import { createTestApp, type TestApp } from "./helpers.ts";

const ENSURE_BUILT = fileURLToPath(new URL("../../web/scripts/ensure-built.ts", import.meta.url));
let t: TestApp;

beforeAll(async () => {
  const build = spawnSync(process.execPath, [ENSURE_BUILT], { encoding: "utf8" });
  expect(build.status, build.stderr).toBe(0);
  t = await createTestApp("ui");
});

afterAll(async () => {
  await t?.close();
});

describe("/ui", () => {
  it("serves index.html with no-cache and the dashboard's CSP, for /ui/ and any client route", async () => {
    const redirect = await t.app.inject({ method: "GET", url: "/ui" });
    expect(redirect.statusCode).toBe(301);
    expect(redirect.headers.location).toBe("/ui/");
    for (const url of ["/ui/", "/ui/runs", "/ui/runs/run_0000000000000000000000000", "/ui/recordings?x=1"]) {
      const response = await t.app.inject({ method: "GET", url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers["content-type"], url).toMatch(/^text\/html/);
      expect(response.headers["cache-control"], url).toBe("no-cache");
      expect(response.headers["content-security-policy"], url).toBe(UI_CSP);
      expect(response.body, url).toContain('<div id="root"></div>');
    }
  });

  it("serves the hashed assets index.html names as immutable for a year", async () => {
    const page = await t.app.inject({ method: "GET", url: "/ui/" });
    const assets = [...page.body.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1] ?? "");
    expect(assets.some((a) => a.endsWith(".js"))).toBe(true);
    expect(assets.some((a) => a.endsWith(".css"))).toBe(true);
    for (const asset of assets) {
      expect(asset).toMatch(/-[A-Za-z0-9_-]{8}\.(js|css)$/);
      const response = await t.app.inject({ method: "GET", url: asset });
      expect(response.statusCode, asset).toBe(200);
      expect(response.headers["cache-control"], asset).toBe("public, max-age=31536000, immutable");
      expect(response.headers["content-type"], asset).toMatch(asset.endsWith(".js") ? /javascript/ : /text\/css/);
    }
  });

  it("answers a missing asset 404 (not the page), and never serves a file outside the build", async () => {
    const missing = await t.app.inject({ method: "GET", url: "/ui/assets/index-00000000.js" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe("not_found");
    for (const url of ["/ui/../package.json", "/ui/%2e%2e/package.json", "/ui/..%2f..%2fapi%2fpackage.json"]) {
      const response = await t.app.inject({ method: "GET", url });
      expect(response.body, url).not.toContain('"@conveyor/');
    }
  });

  it("says how to build the dashboard when it is not built", async () => {
    const bare = await createTestApp("ui-bare", { uiDir: null });
    try {
      const response = await bare.app.inject({ method: "GET", url: "/ui/runs" });
      expect(response.statusCode).toBe(404);
      expect(response.json().error.message).toMatch(/pnpm --filter @conveyor\/web build/);
    } finally {
      await bare.close();
    }
  });
});
