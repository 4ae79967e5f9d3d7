/**
 * The dashboard as the API serves it under /ui: the real build of packages/web (built here first
 * when missing or stale), hashed assets cached for a year, index.html revalidated, client routes
 * answered with the page, the dashboard's own Content-Security-Policy. Real Postgres and Redis
 * through `app.inject`.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inlineScriptHashes, traceViewerCsp } from "../src/routes/trace-viewer.ts";
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

describe("/ui/trace/ (Playwright's trace viewer)", () => {
  it("serves the viewer's page, service worker and snapshot frame revalidated, with its own policy", async () => {
    const redirect = await t.app.inject({ method: "GET", url: "/ui/trace" });
    expect(redirect.statusCode).toBe(301);
    expect(redirect.headers.location).toBe("/ui/trace/");
    const page = await t.app.inject({
      method: "GET",
      url: "/ui/trace/?trace=%2Fapi%2Fruns%2Fx%2Fartifacts%2Ftrace.zip",
    });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toMatch(/^text\/html/);
    expect(page.body).toContain("Playwright Trace Viewer");
    const csp = String(page.headers["content-security-policy"]);
    // Its one inline script is allowed by its hash, nothing inline otherwise; fetches and the
    // service worker stay on this origin; only this origin may frame it.
    expect(csp).toBe(traceViewerCsp(inlineScriptHashes(page.body)));
    expect(inlineScriptHashes(page.body)).toHaveLength(1);
    expect(csp).toContain("connect-src 'self';");
    expect(csp).toContain("frame-ancestors 'self'");
    expect(csp).not.toContain("unsafe-eval");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(page.headers["x-frame-options"]).toBe("SAMEORIGIN");
    for (const url of ["/ui/trace/", "/ui/trace/index.html", "/ui/trace/sw.bundle.js", "/ui/trace/snapshot.html"]) {
      const response = await t.app.inject({ method: "GET", url });
      expect(response.statusCode, url).toBe(200);
      expect(response.headers["cache-control"], url).toBe("no-cache");
      expect(response.headers["content-security-policy"], url).toBe(csp);
    }
    const worker = await t.app.inject({ method: "GET", url: "/ui/trace/sw.bundle.js" });
    expect(worker.headers["content-type"]).toMatch(/javascript/);
    // No Service-Worker-Allowed: its scope is /ui/trace/, it sees none of the dashboard or the API.
    expect(worker.headers["service-worker-allowed"]).toBeUndefined();
  });

  it("serves the viewer's hashed files as immutable, and nothing outside its directory", async () => {
    const page = await t.app.inject({ method: "GET", url: "/ui/trace/" });
    const files = [...page.body.matchAll(/(?:src|href)="\.\/([^"]+\.(?:js|css))"/g)].map((m) => m[1] ?? "");
    expect(files.length).toBeGreaterThan(2);
    for (const file of files) {
      const response = await t.app.inject({ method: "GET", url: `/ui/trace/${file}` });
      expect(response.statusCode, file).toBe(200);
      expect(response.headers["cache-control"], file).toBe("public, max-age=31536000, immutable");
    }
    for (const url of [
      "/ui/trace/../../package.json",
      "/ui/trace/%2e%2e/%2e%2e/package.json",
      "/ui/trace/..%2f..%2fpackage.json",
      "/ui/trace/.hidden",
      "/ui/trace/missing.js",
    ]) {
      const response = await t.app.inject({ method: "GET", url });
      expect(response.statusCode, url).not.toBe(200);
      expect(response.body, url).not.toContain('"playwright-core"');
    }
    const missing = await t.app.inject({ method: "GET", url: "/ui/trace/missing.js" });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe("not_found");
  });

  it("answers 404 when playwright-core's viewer is not installed", async () => {
    const bare = await createTestApp("ui-trace-bare", { traceViewerDir: null });
    try {
      const response = await bare.app.inject({ method: "GET", url: "/ui/trace/" });
      expect(response.statusCode).toBe(404);
      expect(response.json().error.message).toMatch(/trace viewer/);
    } finally {
      await bare.close();
    }
  });
});
