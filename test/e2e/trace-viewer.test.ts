/**
 * Playwright's trace viewer, served by Conveyor under /ui/trace/, in a real Chromium against a real
 * stack (API and worker processes, Postgres, Redis, the fixture site): "Open trace" on a failed
 * run opens the run's trace.zip with the session alone; the action list and the page's DOM
 * snapshot are there; the snapshot of a page whose script and `onerror` handler each add an
 * element shows them once, as captured (neither ran again on the dashboard's origin); another
 * project's trace and a trace from another origin do not load; signed out, nothing loads.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { resolveChromium } from "@conveyor/runner";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { type Browser, type BrowserContext, chromium, type Frame, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
let site: FixtureSite;
let browser: Browser;
let apiKey: string;
let run: { id: string; status: string; artifacts: { trace: string | null } };
let strangerTrace: string;
/** A server on another origin that counts the requests it gets: a trace must never be fetched from it. */
let elsewhere: Server;
let elsewhereHits = 0;
/** Uncaught errors and CSP violations of the viewer's pages. */
const pageErrors: string[] = [];

function scriptedRecording(siteUrl: string) {
  return {
    name: "scripted page",
    actions: [
      { type: "navigate", url: `${siteUrl}/scripted` },
      { type: "click", selector: "#go" },
      { type: "assert", check: "elementVisible", selector: "#never-there", timeoutMs: 1000 },
    ],
  };
}

async function submitTraced(): Promise<{ id: string; status: string; artifacts: { trace: string | null } }> {
  const submitted = await stack.request("POST", "/api/runs", {
    recording: scriptedRecording(site.url),
    options: { trace: true },
  });
  expect(submitted.status).toBe(202);
  return stack.waitForRun(submitted.body.id, ["passed", "failed", "errored", "cancelled"]);
}

beforeAll(async () => {
  site = await startFixtureSite();
  elsewhere = createServer((_req, res) => {
    elsewhereHits++;
    res.writeHead(200, { "content-type": "application/zip", "access-control-allow-origin": "*" });
    res.end("PK");
  });
  await new Promise<void>((resolve) => elsewhere.listen(0, "127.0.0.1", resolve));
  stack = await createStack("trace-viewer");
  await stack.startApi();
  await stack.startWorker("w-trace");
  await stack.createProject("stranger");
  const stranger = await submitTraced();
  expect(stranger.status).toBe("failed");
  strangerTrace = stranger.artifacts.trace ?? "";
  expect(strangerTrace).toMatch(/^\/api\/runs\/.+trace\.zip$/);
  apiKey = await stack.createProject("shop");
  run = await submitTraced();
  expect(run.status).toBe("failed");
  expect(run.artifacts.trace).toMatch(/trace\.zip$/);
  browser = await chromium.launch({
    executablePath: resolveChromium({ chromiumPath: process.env.CHROMIUM_PATH }).path,
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await site?.close();
  await new Promise((resolve) => elsewhere?.close(resolve));
});

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  context.on("page", (page) => watch(page));

  return context;
}

function watch(page: Page): void {
  page.on("pageerror", (error) => void pageErrors.push(`${page.url()}: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error" && /Content Security Policy/i.test(message.text())) {
      pageErrors.push(`${page.url()}: ${message.text()}`);
    }
  });
}

async function signIn(page: Page): Promise<void> {
  await page.goto(`${stack.apiUrl}/ui/`);
  await page.getByLabel("API key or admin token").fill(apiKey);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

/** The frame that shows a snapshot of the recorded page (inside the viewer's snapshot.html frame). */
async function snapshotFrame(viewer: Page): Promise<Frame> {
  for (let i = 0; i < 100; i++) {
    for (const frame of viewer.frames()) {
      if (frame === viewer.mainFrame() || frame.url().includes("snapshot.html")) continue;
      if (!frame.url().includes("/ui/trace/snapshot/")) continue;
      const title = await frame
        .locator("h1")
        .first()
        .textContent({ timeout: 200 })
        .catch(() => null);
      if (title === "Scripted") return frame;
    }
    await viewer.waitForTimeout(100);
  }
  throw new Error(`no snapshot frame; frames: ${viewer.frames().map((f) => f.url())}`);
}

describe("the trace viewer", () => {
  it("opens a failed run's trace from the run page, with its actions and the page's snapshot", async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      await signIn(page);
      await page.goto(`${stack.apiUrl}/ui/runs/${run.id}`);
      await page.getByTestId("run-status").getByText("failed").waitFor();
      const open = page.getByRole("link", { name: "Open trace", exact: true });
      expect(await open.getAttribute("target")).toBe("_blank");
      const [viewer] = await Promise.all([context.waitForEvent("page"), open.click()]);
      await viewer.waitForLoadState();
      expect(new URL(viewer.url()).pathname).toBe("/ui/trace/");
      expect(new URL(viewer.url()).searchParams.get("trace")).toBe(`${stack.apiUrl}${run.artifacts.trace}`);
      // The action list: the click on #go and the assertion that failed.
      const click = viewer.getByText("#go").first();
      await click.waitFor({ timeout: 30_000 });
      await click.click();
      const frame = await snapshotFrame(viewer);
      // The snapshot is the page as captured: its script and onerror ran once each on the live
      // page, and neither ran again in the viewer.
      expect(await frame.locator("p.ran").allTextContents()).toEqual(
        expect.arrayContaining(["script ran", "onerror ran"]),
      );
      expect(await frame.locator("p.ran").count()).toBe(2);
      expect(await frame.locator("#go").count()).toBe(1);
      // It is rendered on the dashboard's origin, under the viewer's scope.
      expect(new URL(frame.url()).origin).toBe(stack.apiUrl);
      await viewer.waitForTimeout(500);
      expect(await frame.locator("p.ran").count()).toBe(2);
      expect(pageErrors.splice(0)).toEqual([]);
    } finally {
      await context.close();
    }
  });

  it("does not load another project's trace, a trace from another origin, or any trace signed out", async () => {
    const context = await newContext();
    try {
      const page = await context.newPage();
      await signIn(page);
      // The stranger's artifact is a 404 to this session, and so is the viewer's load of it.
      const direct = await context.request.get(`${stack.apiUrl}${strangerTrace}`);
      expect(direct.status()).toBe(404);
      const viewerUrl = (trace: string) => `${stack.apiUrl}/ui/trace/?trace=${encodeURIComponent(trace)}`;
      const stranger = await context.newPage();
      await stranger.goto(viewerUrl(`${stack.apiUrl}${strangerTrace}`));
      await stranger
        .getByText(/Could not load trace/i)
        .first()
        .waitFor({ timeout: 30_000 });
      expect(await stranger.getByText("#go").count()).toBe(0);
      // Another origin: the viewer's policy (and its service worker's) allows this origin only.
      const address = elsewhere.address() as AddressInfo;
      const away = await context.newPage();
      await away.goto(viewerUrl(`http://127.0.0.1:${address.port}/trace.zip`));
      await away
        .getByText(/Could not load trace/i)
        .first()
        .waitFor({ timeout: 30_000 });
      expect(elsewhereHits).toBe(0);
      pageErrors.splice(0); // the refused fetch is itself reported as a CSP violation
      // Signed out: the same session cookie is gone, the trace is refused.
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByLabel("API key or admin token").waitFor();
      const out = await context.newPage();
      await out.goto(viewerUrl(`${stack.apiUrl}${run.artifacts.trace}`));
      await out
        .getByText(/Could not load trace/i)
        .first()
        .waitFor({ timeout: 30_000 });
      expect(await out.getByText("#go").count()).toBe(0);
    } finally {
      await context.close();
    }
  });
});
