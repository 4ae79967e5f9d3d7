/**
 * The dashboard (packages/web, served by the API under /ui) in a real Chromium against a real
 * stack: API and worker processes, Postgres, Redis, the fixture site. Sign in with a key, upload a
 * recording by drag and drop, run it and watch its status turn queued → running → passed without
 * a reload, open a failed run and see its failing action and screenshot, sign out; another
 * project's run shows "Not found"; the operator sees the fleet. axe finds no serious or critical
 * violation on any page. Screenshots at 375 and 1440 px go to test-results/dashboard/, and into
 * docs/dashboard/ with UPDATE_DOC_SCREENSHOTS=1.
 */
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { loginRecording, slowRecording } from "@conveyor/testing/recordings";
import { ADMIN_TOKEN, createStack, type Stack } from "@conveyor/testing/stack";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { dashboardHarness, WIDTHS } from "./dashboard-helpers.ts";

/** The screenshots docs/dashboard.md shows (every one is written to test-results/dashboard). */
const DOC_PAGES = ["overview", "runs", "run-failed", "recordings", "fleet", "sign-in"];

let stack: Stack;
let site: FixtureSite;
let apiKey: string;
let strangerRunId: string;
let failedRunId: string;
const dashboard = dashboardHarness({ apiUrl: () => stack.apiUrl, docPages: DOC_PAGES });
const { newPage, signIn, seriousViolations, screenshot } = dashboard;

beforeAll(async () => {
  await dashboard.start();
  site = await startFixtureSite();
  stack = await createStack("dashboard");
  // The worker starts later, inside the test that watches a run go from queued to running.
  await stack.startApi();
  const stranger = await stack.createProject("stranger");
  const strangerRun = await stack.request("POST", "/api/runs", { recording: loginRecording(site.url) });
  expect(strangerRun.status).toBe(202);
  strangerRunId = strangerRun.body.id;
  apiKey = await stack.createProject("shop");
  expect(apiKey).not.toBe(stranger);
});

afterAll(async () => {
  await dashboard.close();
  await stack?.stop();
  await site?.close();
});

afterEach(() => {
  // Uncaught errors of the dashboard's pages: any is a failure.
  expect(dashboard.pageErrors.splice(0)).toEqual([]);
});

describe("the dashboard in a browser", () => {
  it("signs in with a key, uploads a recording, and shows its run go queued → running → passed live", async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, apiKey);
      await page.getByRole("link", { name: "Recordings" }).click();
      await page.getByRole("heading", { name: "Recordings" }).waitFor();

      // Drag and drop a recording file onto the drop zone.
      const json = JSON.stringify(slowRecording(site.url, 2500));
      const dataTransfer = await page.evaluateHandle((text) => {
        const transfer = new DataTransfer();
        transfer.items.add(new File([text], "slow.json", { type: "application/json" }));
        return transfer;
      }, json);
      await page.dispatchEvent(".dropzone", "drop", { dataTransfer });
      await page.getByRole("status").getByText("slow 2500 ms").waitFor();

      // Run it now: the run page opens, and the run waits in the queue (no worker yet).
      await page.getByRole("button", { name: "Run now: slow 2500 ms" }).click();
      await page.waitForURL(/\/ui\/runs\/run_/);
      const status = page.getByTestId("run-status");
      await status.getByText("queued").waitFor();
      // Everything from here on is observed in this document: no reload, no navigation.
      await page.evaluate(() => {
        const seen: string[] = [];
        (window as unknown as { seenStatuses: string[] }).seenStatuses = seen;
        const read = () => document.querySelector("[data-testid=run-status] .badge")?.textContent ?? "";
        seen.push(read());
        new MutationObserver(() => {
          const now = read();
          if (seen[seen.length - 1] !== now) seen.push(now);
        }).observe(document.body, { subtree: true, childList: true, characterData: true });
      });
      await stack.startWorker("w-dashboard");
      await status.getByText("passed").waitFor({ timeout: 60_000 });
      const seen = await page.evaluate(() => (window as unknown as { seenStatuses: string[] }).seenStatuses);
      expect(seen).toEqual(["queued", "running", "passed"]);
      // The action timeline of the run is there, with each action's duration.
      await page.getByRole("heading", { name: /Attempt 1/ }).waitFor();
      expect(await page.locator(".timeline > li").count()).toBe(3);
      // Started from the dashboard, it recorded a trace: it opens in the trace viewer Conveyor serves.
      const open = page.getByRole("link", { name: "Open trace", exact: true });
      const [viewer] = await Promise.all([context.waitForEvent("page"), open.click()]);
      expect(new URL(viewer.url()).pathname).toBe("/ui/trace/");
      await viewer.getByText("#done").first().waitFor({ timeout: 30_000 });
      await viewer.close();
    } finally {
      await context.close();
    }
  });

  it("shows a failed run's failing action, its error and its screenshot", async () => {
    const submitted = await stack.request("POST", "/api/runs", { recording: loginRecording(site.url, "wrong") });
    expect(submitted.status).toBe(202);
    const run = await stack.waitForRun(submitted.body.id, ["passed", "failed", "errored", "cancelled"]);
    expect(run.status).toBe("failed");
    failedRunId = run.id;
    const { context, page } = await newPage();
    try {
      await signIn(page, apiKey);
      await page.goto(`${stack.apiUrl}/ui/runs/${run.id}`);
      await page.getByTestId("run-status").getByText("failed").waitFor();
      await page.getByText(`Action 5 failed:`).waitFor();
      const failing = page.locator(".step-failed");
      expect(await failing.count()).toBe(1);
      expect(await failing.locator(".step-type").textContent()).toBe("assert");
      expect(await failing.getByTestId("action-error").textContent()).toBe(run.error.message);
      // The screenshot is loaded from the artifact URL with the session cookie alone.
      const image = failing.getByRole("img");
      await image.waitFor();
      await page.waitForFunction(
        () => ((document.querySelector(".step-failed img") as HTMLImageElement | null)?.naturalWidth ?? 0) > 0,
      );
      expect(await image.getAttribute("src")).toBe(run.actions[4].screenshotUrl);
      expect(await image.evaluate((img) => (img as HTMLImageElement).naturalWidth)).toBeGreaterThan(100);
      // A run still to retry and nothing to cancel.
      await page.getByRole("button", { name: "Retry as a new run" }).waitFor();
      expect(await page.getByRole("button", { name: "Cancel run" }).count()).toBe(0);
    } finally {
      await context.close();
    }
  });

  it("shows another project's run as not found", async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, apiKey);
      await page.goto(`${stack.apiUrl}/ui/runs/${strangerRunId}`);
      await page.getByRole("heading", { name: "Not found" }).waitFor();
      expect(await page.getByText("This run does not exist in this project.").count()).toBe(1);
      expect(await page.content()).not.toContain("login passes");
    } finally {
      await context.close();
    }
  });

  it("signs out: the session ends and the sign-in page returns", async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, apiKey);
      await page.getByRole("button", { name: "Sign out" }).click();
      await page.getByRole("button", { name: "Sign in" }).waitFor();
      const after = await page.evaluate(async () => (await fetch("/api/session")).status);
      expect(after).toBe(401);
      const runs = await page.evaluate(async () => (await fetch("/api/runs")).status);
      expect(runs).toBe(401);
      // The cookie is httpOnly: no script of the page ever sees it.
      expect(await page.evaluate(() => document.cookie)).toBe("");
    } finally {
      await context.close();
    }
  });

  it("signs the operator in with the admin token, who sees the queue and the workers", async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN_TOKEN);
      await page.getByRole("heading", { name: "Fleet" }).waitFor();
      await page.getByRole("cell", { name: "w-dashboard" }).waitFor({ timeout: 20_000 });
      await page.getByRole("heading", { name: "Runs queue" }).waitFor();
      expect(await seriousViolations(page)).toEqual([]);
      for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: width < 600 ? 800 : 900 });
        await screenshot(page, `fleet-${width}`);
      }
    } finally {
      await context.close();
    }
  });

  it("has no serious or critical accessibility violation on any page, at 375 and 1440 px", async () => {
    const pages: { name: string; path: string; ready: (page: Page) => Promise<unknown> }[] = [
      { name: "overview", path: "/", ready: (p) => p.getByRole("heading", { name: "Latest runs" }).waitFor() },
      { name: "runs", path: "/runs", ready: (p) => p.getByRole("table").waitFor() },
      {
        name: "run-failed",
        path: `/runs/${failedRunId}`,
        ready: (p) => p.waitForFunction(() => (document.querySelector(".shot") as HTMLImageElement)?.complete),
      },
      { name: "recordings", path: "/recordings", ready: (p) => p.getByRole("table").waitFor() },
      { name: "keys", path: "/keys", ready: (p) => p.getByRole("table").waitFor() },
      { name: "dead-letters", path: "/dead-letters", ready: (p) => p.getByText("None.").waitFor() },
      {
        name: "not-found",
        path: "/runs/run_0000000000000000000000000",
        ready: (p) => p.getByText("Not found").waitFor(),
      },
    ];
    const { context, page } = await newPage();
    try {
      // The sign-in page first, before the session exists.
      await page.goto(`${stack.apiUrl}/ui/`);
      await page.getByLabel("API key or admin token").waitFor();
      expect(await seriousViolations(page), "sign-in").toEqual([]);
      for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: width < 600 ? 800 : 900 });
        await screenshot(page, `sign-in-${width}`);
      }
      await signIn(page, apiKey);
      for (const entry of pages) {
        await page.setViewportSize({ width: 1440, height: 900 });
        await page.goto(`${stack.apiUrl}/ui${entry.path}`);
        await entry.ready(page);
        expect(await seriousViolations(page), entry.name).toEqual([]);
        for (const width of WIDTHS) {
          await page.setViewportSize({ width, height: width < 600 ? 800 : 900 });
          // Nothing wider than the screen at 375 px: the page scrolls down, not sideways.
          const overflow = await dashboard.overflow(page);
          expect(overflow.px, `${entry.name} at ${width} px: ${overflow.wide.join(", ")}`).toBeLessThanOrEqual(0);
          if (entry.name !== "not-found") await screenshot(page, `${entry.name}-${width}`);
        }
      }
      // Dark theme follows the system.
      await page.emulateMedia({ colorScheme: "dark" });
      await page.setViewportSize({ width: 1440, height: 900 });
      await page.goto(`${stack.apiUrl}/ui/runs/${failedRunId}`);
      await page.getByText("Action 5 failed:").waitFor();
      expect(await seriousViolations(page), "run-failed, dark").toEqual([]);
      await screenshot(page, "run-failed-dark-1440");
    } finally {
      await context.close();
    }
    // Eight pages, each through axe at two widths: over a minute on a loaded 2-core machine.
  }, 240_000);
});
