/**
 * The dashboard's Runs filters and Recordings extras in a real Chromium against a real stack (API
 * and worker processes, Postgres, Redis, the fixture site), seeded through the public API with a
 * few real runs (a failure, a flaky pass, a pass of one recording; a pass of another):
 * - filtering the runs by status, flaky and recording changes the list and the URL (replaced, not
 *   pushed); a reload keeps the filter; a new run of the filtered recording appears without one;
 * - each recording's sparkline shows its runs' results oldest first, with a text alternative that
 *   counts them, and its flaky rate;
 * - a recording's variable defaults are edited in a form (the PATCH carries the CSRF token): a
 *   plain one shows its new value after a reload, a sensitive one only "set", and its value is
 *   never rendered or returned to the page.
 * axe finds no serious or critical violation; nothing is wider than the screen at 375 px.
 * Screenshots at 375 and 1440 px go to test-results/dashboard/, and into docs/dashboard/ with
 * UPDATE_DOC_SCREENSHOTS=1.
 */
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { loginRecording } from "@conveyor/testing/recordings";
import { createStack, type Stack } from "@conveyor/testing/stack";
import type { Locator, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { dashboardHarness, viewport, WIDTHS } from "./dashboard-helpers.ts";

/** The screenshots docs/dashboard.md shows (every one is written to test-results/dashboard). */
const DOC_PAGES = ["runs-filtered", "recordings-variables"];
/** A sensitive variable's value: typed into the form once, never to be seen again. */
const SECRET = "tok-3f9a-never-shown-back";
const TERMINAL = ["passed", "failed", "errored", "cancelled"];

let stack: Stack;
let site: FixtureSite;
let apiKey: string;
let checkoutId: string;
let loginId: string;
/** checkout's runs, oldest first: failed, flaky (passed on its retry), passed. */
const checkoutRuns: string[] = [];
let loginRunId: string;

const dashboard = dashboardHarness({ apiUrl: () => stack.apiUrl, docPages: DOC_PAGES });
const { newPage, signIn, seriousViolations, overflow, screenshot } = dashboard;

/**
 * Fails the first visit of each `${KEY}` and passes the next (the fixture site's /flaky): so
 * KEY=a fails, KEY=b with a retry is flaky, and KEY=a again passes.
 */
function checkoutRecording(siteUrl: string) {
  return {
    name: "checkout",
    variables: [
      { name: "KEY", description: "Which flaky page" },
      { name: "SHOPPER", default: "alice" },
      { name: "TOKEN", sensitive: true, description: "The shop's API token" },
    ],
    actions: [
      { type: "navigate", url: `${siteUrl}/flaky?key=\${KEY}&fails=1` },
      { type: "assert", check: "elementVisible", selector: "#ok", timeoutMs: 1500 },
    ],
  };
}

async function store(recording: unknown): Promise<string> {
  const response = await stack.request("POST", "/api/recordings", recording);
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body.id as string;
}

/** Submits a run and waits for it to end; returns it. */
async function run(body: Record<string, unknown>): Promise<{ id: string; status: string; flaky: boolean }> {
  const submitted = await stack.request("POST", "/api/runs", body);
  expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
  return stack.waitForRun(submitted.body.id, TERMINAL, 90_000);
}

beforeAll(async () => {
  await dashboard.start();
  site = await startFixtureSite();
  stack = await createStack("dashboard-runs-recs");
  await stack.startApi();
  await stack.startWorker("w-dashboard-runs");
  apiKey = await stack.createProject("shop");
  checkoutId = await store(checkoutRecording(site.url));
  loginId = await store(loginRecording(site.url));
  // One at a time: the order of their ends is the sparkline's order.
  const failed = await run({ recordingId: checkoutId, variables: { KEY: "a" } });
  const flaky = await run({ recordingId: checkoutId, variables: { KEY: "b" }, retries: 1 });
  const passed = await run({ recordingId: checkoutId, variables: { KEY: "a" } });
  expect([failed, flaky, passed].map((r) => [r.status, r.flaky])).toEqual([
    ["failed", false],
    ["passed", true],
    ["passed", false],
  ]);
  checkoutRuns.push(failed.id, flaky.id, passed.id);
  const login = await run({ recordingId: loginId });
  expect(login.status).toBe("passed");
  loginRunId = login.id;
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

/** The run ids the runs table shows, once it shows `count` rows. */
async function listedRuns(page: Page, count: number): Promise<string[]> {
  const ids = page.locator("table tbody tr .mono");
  await page.waitForFunction((n) => document.querySelectorAll("table tbody tr").length === n, count, {
    timeout: 15_000,
  });
  return (await ids.allTextContents()).map((text) => text.trim());
}

/** The page's query string as a sorted list of `name=value`. */
function params(page: Page): string[] {
  return [...new URL(page.url()).searchParams.entries()].map(([k, v]) => `${k}=${v}`).sort();
}

/** axe, the 375 px overflow check, and screenshots at both widths (of `shown` when given), of the page as it is. */
async function checkAndShoot(page: Page, name: string, shown?: Locator): Promise<void> {
  expect(await seriousViolations(page), name).toEqual([]);
  for (const width of WIDTHS) {
    await page.setViewportSize(viewport(width));
    await shown?.scrollIntoViewIfNeeded();
    const wide = await overflow(page);
    expect(wide.px, `${name} at ${width} px: ${wide.wide.join(", ")}`).toBeLessThanOrEqual(0);
    await screenshot(page, `${name}-${width}`);
  }
  await page.setViewportSize(viewport(1440));
}

describe("the Runs page's filters", () => {
  it("filter by status, flaky and recording: the list and the URL change, a reload keeps them", async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, apiKey);
      await page.goto(`${stack.apiUrl}/ui/runs`);
      const all = await listedRuns(page, 4);
      expect([...all].sort()).toEqual([...checkoutRuns, loginRunId].sort());
      const historyLength = await page.evaluate(() => history.length);

      await page.getByLabel("Status").selectOption("failed");
      await page.waitForURL(/status=failed/);
      expect(await listedRuns(page, 1)).toEqual([checkoutRuns[0]]);
      expect(params(page)).toEqual(["status=failed"]);

      await page.getByLabel("Status").selectOption("");
      await page.getByLabel("Flaky").selectOption("true");
      await page.waitForURL((url) => url.searchParams.get("flaky") === "true" && !url.searchParams.has("status"));
      expect(await listedRuns(page, 1)).toEqual([checkoutRuns[1]]);

      await page.getByLabel("Flaky").selectOption("false");
      await page.getByLabel("Recording").selectOption({ label: "checkout" });
      await page.getByLabel("Status").selectOption("passed");
      await page.waitForURL((url) => url.searchParams.get("status") === "passed");
      expect(params(page)).toEqual(["flaky=false", `recordingId=${checkoutId}`, "status=passed"]);
      expect(await listedRuns(page, 1)).toEqual([checkoutRuns[2]]);
      // Each change replaced the URL: Back leaves the page rather than undoing one filter.
      expect(await page.evaluate(() => history.length)).toBe(historyLength);

      // A reload (or the link, shared) shows the same list, its filters shown as chosen.
      await page.reload();
      expect(await listedRuns(page, 1)).toEqual([checkoutRuns[2]]);
      expect(await page.getByLabel("Status").inputValue()).toBe("passed");
      expect(await page.getByLabel("Flaky").inputValue()).toBe("false");
      expect(await page.getByLabel("Recording").inputValue()).toBe(checkoutId);
      await checkAndShoot(page, "runs-filtered");

      // The filtered list stays live: a new run of the recording appears without a reload.
      await page.getByLabel("Status").selectOption("");
      await page.getByLabel("Flaky").selectOption("");
      await page.getByLabel("Recording").selectOption({ label: "login passes" });
      await page.waitForURL((url) => url.searchParams.get("recordingId") === loginId);
      expect(await listedRuns(page, 1)).toEqual([loginRunId]);
      const submitted = await stack.request("POST", "/api/runs", { recordingId: loginId });
      expect(submitted.status).toBe(202);
      expect(await listedRuns(page, 2)).toEqual([submitted.body.id, loginRunId]);
      expect((await stack.waitForRun(submitted.body.id, TERMINAL)).status).toBe("passed");

      await page.getByRole("button", { name: "Clear filters" }).click();
      await page.waitForURL((url) => url.search === "");
      expect(await listedRuns(page, 5)).toHaveLength(5);
    } finally {
      await context.close();
    }
  });
});

describe("the Recordings page", () => {
  it("shows each recording's last results as a sparkline, oldest first, with a text alternative", async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, apiKey);
      await page.goto(`${stack.apiUrl}/ui/recordings`);
      const checkout = page.getByRole("row").filter({ hasText: checkoutId });
      const sparkline = checkout.getByRole("img", { name: "last 3: 1 passed, 1 failed, 1 flaky" });
      await sparkline.waitFor();
      expect(
        await sparkline.locator("rect").evaluateAll((bars) => bars.map((b) => b.getAttribute("data-kind"))),
      ).toEqual(["failed", "flaky", "passed"]);
      // Flaky rate: 1 of 3; pass rate: 2 of 3.
      await checkout.getByRole("cell", { name: "33.3 %" }).waitFor();
      await checkout.getByRole("cell", { name: "66.7 % of 3" }).waitFor();
      const login = page.getByRole("row").filter({ hasText: loginId });
      await login.getByRole("img", { name: "last 2: 2 passed" }).waitFor();
      // The sparkline opens the recording's runs.
      await sparkline.click();
      await page.waitForURL((url) => url.pathname === "/ui/runs" && url.searchParams.get("recordingId") === checkoutId);
      expect((await listedRuns(page, 3)).sort()).toEqual([...checkoutRuns].sort());
      await page.goBack();
      await page.getByRole("img", { name: "last 3: 1 passed, 1 failed, 1 flaky" }).waitFor();
      await checkAndShoot(page, "recordings-history");
    } finally {
      await context.close();
    }
  });

  it("edits a recording's variables: a default persists, a sensitive value is never shown back", async () => {
    const { context, page } = await newPage();
    const seen: string[] = [];
    const csrfHeaders: (string | undefined)[] = [];
    page.on("request", (request) => {
      if (request.method() === "PATCH") csrfHeaders.push(request.headers()["x-csrf-token"]);
    });
    page.on("response", async (response) => {
      if (new URL(response.url()).pathname.startsWith("/api/")) seen.push(await response.text().catch(() => ""));
    });
    try {
      await signIn(page, apiKey);
      await page.goto(`${stack.apiUrl}/ui/recordings`);
      await page.getByRole("button", { name: "Variables: checkout" }).click();
      const editor = page.getByRole("region", { name: "Variables of checkout" });
      await editor.getByLabel("SHOPPER", { exact: true }).waitFor();
      expect(await editor.getByLabel("SHOPPER", { exact: true }).inputValue()).toBe("alice");
      expect(await editor.getByTestId("secret-state-TOKEN").textContent()).toContain("Not set.");
      await editor.getByLabel("SHOPPER", { exact: true }).fill("bob");
      await editor.getByLabel("TOKEN sensitive", { exact: true }).fill(SECRET);
      await editor.getByRole("button", { name: "Save variables" }).click();
      await editor.getByRole("status").getByText("Saved.").waitFor();
      expect(csrfHeaders).toHaveLength(1);
      expect(csrfHeaders[0]).toMatch(/.{16,}/);
      // The form is the stored state again: the secret field is empty, and says the value is set.
      expect(await editor.getByLabel("TOKEN sensitive", { exact: true }).inputValue()).toBe("");
      await editor.getByTestId("secret-state-TOKEN").getByText("Set (hidden)").waitFor();

      // Stored: the plain default as typed, the sensitive one sealed (the API shows it redacted).
      const stored = await stack.request("GET", `/api/recordings/${checkoutId}`);
      expect(stored.body.recording.variables).toEqual([
        { name: "KEY", description: "Which flaky page" },
        { name: "SHOPPER", default: "bob" },
        { name: "TOKEN", sensitive: true, default: "[redacted]", description: "The shop's API token" },
      ]);

      await page.reload();
      await page.getByRole("button", { name: "Variables: checkout" }).click();
      await editor.getByLabel("SHOPPER", { exact: true }).waitFor();
      expect(await editor.getByLabel("SHOPPER", { exact: true }).inputValue()).toBe("bob");
      expect(await editor.getByLabel("TOKEN sensitive", { exact: true }).inputValue()).toBe("");
      await editor.getByTestId("secret-state-TOKEN").getByText("Set (hidden)").waitFor();
      await checkAndShoot(page, "recordings-variables", editor);

      expect(await page.content()).not.toContain(SECRET);
      const values = await page
        .locator("input")
        .evaluateAll((inputs) => inputs.map((input) => (input as HTMLInputElement).value));
      expect(values).not.toContain(SECRET);
      expect(seen.length).toBeGreaterThan(3);
      expect(seen.filter((body) => body.includes(SECRET))).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
