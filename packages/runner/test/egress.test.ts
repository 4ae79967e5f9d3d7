/**
 * The egress policy in a real Chromium: every request a page makes goes through the proxy, the
 * fixture site (allowed) works, and nothing reaches a canary on a denied loopback port — not a
 * navigation, a redirect, a link, an <img>, a fetch, an iframe, a WebSocket, nor a name that
 * resolves to loopback. Local files and the browser's own pages are never opened.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunError } from "@conveyor/core";
import { EgressProxy } from "@conveyor/egress";
import { type Canary, startCanary, testPolicy } from "@conveyor/testing/egress";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrowserPool } from "../src/pool.ts";
import { runRecording, testChromiumPath } from "./helpers.ts";

let site: FixtureSite;
let canary: Canary;
let proxy: EgressProxy;
let pool: BrowserPool;
let secretDir: string;

beforeAll(async () => {
  site = await startFixtureSite();
  canary = await startCanary();
  proxy = await EgressProxy.start({ policy: testPolicy(site.url.replace("http://", "")) });
  pool = new BrowserPool({ executablePath: testChromiumPath(), egress: proxy });
  secretDir = mkdtempSync(join(tmpdir(), "conveyor-egress-secret-"));
  writeFileSync(join(secretDir, "other-project.txt"), "Z9-OTHER-PROJECT-SECRET");
});

afterAll(async () => {
  await pool?.close();
  await proxy?.close();
  await canary?.close();
  await site?.close();
  if (secretDir) rmSync(secretDir, { recursive: true, force: true });
});

const done = (selector: string, text: string) => ({
  type: "assert" as const,
  check: "containsText" as const,
  selector,
  expected: text,
});

describe("under the default policy with the fixture site allowed", () => {
  it("replays the fixture site's flow", async () => {
    const result = await runRecording(pool, {
      name: "login",
      actions: [
        { type: "navigate", url: `${site.url}/login` },
        { type: "input", selector: "#username", value: "alice" },
        { type: "input", selector: "#password", value: "secret" },
        { type: "click", selector: "[data-testid=login-button]" },
        { type: "assert", check: "urlContains", expected: "/welcome" },
      ],
    });
    expect(result.outcome).toBe("passed");
    expect(result.actions.every((action) => action.blockedRequests === undefined)).toBe(true);
  });

  it.each([
    ["a denied address", () => `${canary.url}/`],
    [
      "a redirect from the allowed site to a denied port",
      () => `${site.url}/redirect?to=${encodeURIComponent(`${canary.url}/`)}`,
    ],
    ["a name that resolves to loopback", () => `http://localhost:${canary.port}/`],
    ["a tunnel (https) to a denied port", () => `https://127.0.0.1:${canary.port}/`],
    ["an address in another spelling", () => `http://0x7f.1:${canary.port}/`],
  ])("fails a navigation to %s with blocked_by_policy, and never reaches it", async (_what, url) => {
    const before = canary.hits;
    const result = await runRecording(pool, {
      name: "blocked",
      actions: [
        { type: "navigate", url: `${site.url}/login` },
        { type: "navigate", url: url() },
        { type: "assert", check: "containsText", expected: "CANARY" },
      ],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error).toMatchObject({ kind: "test_failure", code: "blocked_by_policy", actionIndex: 1 });
    expect(result.error?.message).toMatch(/Blocked by the egress policy: .*\(.*loopback.*\)/);
    expect(result.actions[1]).toMatchObject({ status: "failed", error: { code: "blocked_by_policy" } });
    expect(JSON.stringify(result)).not.toContain("CANARY-SECRET-CONTENT");
    expect(canary.hits).toBe(before);
  });

  it("fails a click that leads to a denied page", async () => {
    const before = canary.hits;
    const result = await runRecording(pool, {
      name: "link",
      actions: [
        { type: "navigate", url: `${site.url}/embed?target=${encodeURIComponent(canary.url)}` },
        { type: "click", selector: "#away" },
        { type: "assert", check: "urlContains", expected: "/link" },
      ],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error?.code).toBe("blocked_by_policy");
    expect(canary.hits).toBe(before);
  });

  it("records blocked subresources (img, iframe, fetch, WebSocket) without failing the run", async () => {
    const before = canary.hits;
    const result = await runRecording(pool, {
      name: "embed",
      actions: [
        { type: "navigate", url: `${site.url}/embed?target=${encodeURIComponent(canary.url)}` },
        done("#fetch-result", "fetch: failed"),
        done("#ws-result", "ws: error"),
      ],
    });
    expect(result.outcome).toBe("passed");
    const blocked = result.actions.flatMap((action) => action.blockedRequests?.first ?? []);
    const count = result.actions.reduce((sum, action) => sum + (action.blockedRequests?.count ?? 0), 0);
    expect(count).toBeGreaterThanOrEqual(4);
    const urls = blocked.map((item) => item.url);
    expect(urls).toContain(`${canary.url}/img.png`);
    expect(urls).toContain(`${canary.url}/frame`);
    expect(urls).toContain(`${canary.url}/fetch`);
    expect(urls).toContain(`127.0.0.1:${canary.port}`); // the WebSocket's tunnel
    expect(blocked.every((item) => item.rule.includes("loopback"))).toBe(true);
    expect(canary.hits).toBe(before);
  });

  it("checks a popup's and a service worker's requests too", async () => {
    const before = canary.hits;
    const result = await runRecording(pool, {
      name: "popup and service worker",
      actions: [
        { type: "navigate", url: `${site.url}/popup?target=${encodeURIComponent(canary.url)}` },
        done("#sw-result", "sw: failed"),
        { type: "click", selector: "#open" },
        // Gives the popup time to load (an optional action that fails is skipped, not a failure).
        { type: "assert", check: "elementVisible", selector: "#never", timeoutMs: 2000, optional: true },
      ],
    });
    expect(result.outcome).toBe("passed");
    const urls = result.actions.flatMap((action) => action.blockedRequests?.first ?? []).map((item) => item.url);
    expect(urls).toEqual(expect.arrayContaining([`${canary.url}/sw`, `${canary.url}/popup`]));
    expect(canary.hits).toBe(before);
  });

  it("reports an allowed site that does not answer as the network error it is (retried, not blocked)", async () => {
    const closed = await startCanary();
    const port = closed.port;
    await closed.close();
    const open = await EgressProxy.start({ policy: testPolicy(`127.0.0.1:${port}`) });
    const local = new BrowserPool({ executablePath: testChromiumPath(), egress: open, prepareNextPage: false });
    try {
      const attempt = runRecording(local, {
        name: "down",
        actions: [{ type: "navigate", url: `http://127.0.0.1:${port}/` }],
      });
      await expect(attempt).rejects.toBeInstanceOf(RunError);
      await expect(attempt).rejects.toMatchObject({
        kind: "recoverable",
        message: expect.stringContaining("ERR_CONNECTION_REFUSED"),
      });
    } finally {
      await local.close();
      await open.close();
    }
  });
});

describe("local files and the browser's own pages", () => {
  it.each(["file:///etc/passwd", "chrome://version", "view-source:http://127.0.0.1/", "javascript:document.title"])(
    "refuses %s before anything loads",
    async (url) => {
      const result = await runRecording(pool, {
        name: "local",
        actions: [
          { type: "navigate", url },
          { type: "assert", check: "containsText", expected: "root:" },
        ],
      });
      expect(result.outcome).toBe("failed");
      expect(result.error).toMatchObject({ code: "blocked_by_policy", actionIndex: 0 });
      expect(result.error?.message).toContain("scheme");
      expect(JSON.stringify(result)).not.toMatch(/root:x:0|Chromium.*Command Line/);
    },
  );

  it("refuses another project's artifact through file: and a data: page cannot open it either", async () => {
    const file = `file://${secretDir}/other-project.txt`;
    const direct = await runRecording(pool, { name: "artifact", actions: [{ type: "navigate", url: file }] });
    expect(direct.error?.code).toBe("blocked_by_policy");
    const html = `<iframe id="f" src="${file}"></iframe><a id="l" href="${file}">open</a>`;
    const indirect = await runRecording(
      pool,
      {
        name: "data page",
        actions: [
          { type: "navigate", url: `data:text/html,${encodeURIComponent(html)}` },
          { type: "click", selector: "#l" },
          { type: "assert", check: "containsText", expected: "OTHER-PROJECT", timeoutMs: 1000 },
        ],
      },
      { options: { screenshots: "every" } },
    );
    expect(indirect.outcome).toBe("failed");
    expect(JSON.stringify(indirect)).not.toContain("Z9-OTHER-PROJECT-SECRET");
    expect(indirect.store.entries.size).toBeGreaterThan(0);
    for (const [, object] of indirect.store.entries) expect(object.body.includes("Z9-OTHER")).toBe(false);
  });
});

describe("the browser process", () => {
  it("downloads land in the pool's private directory and go with the run's context", async () => {
    const opened = await pool.newPage();
    opened.egress?.bind();
    await opened.page.goto(`${site.url}/embed`);
    const [download] = await Promise.all([
      opened.page.waitForEvent("download"),
      opened.page.evaluate(() => {
        const link = document.createElement("a");
        link.href = "/download";
        document.body.append(link);
        link.click();
      }),
    ]);
    const path = await download.path();
    const dir = pool.downloadsDir ?? "";
    expect(path.startsWith(dir)).toBe(true);
    expect(readdirSync(dir).length).toBe(1);
    await opened.context.close();
    expect(readdirSync(dir)).toEqual([]);
  });
});
