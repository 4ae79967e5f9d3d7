/**
 * The dashboard's Suites, Schedules and Channels pages in a real Chromium against a real stack
 * (API and worker processes, Postgres, Redis, the fixture site, a local webhook receiver), with
 * everything seeded through the public API:
 * - a suite is listed; "Run suite" starts a suite run that appears, links to its runs, and turns
 *   passed without a reload;
 * - a schedule shows its next times; "Run now" logs a manual fire with its run; while paused the
 *   worker's tick logs its times skipped with the pause reason; Resume and Pause work;
 * - a webhook channel is listed with where it sends but never its URL's path or its signing
 *   secret; "Send test" shows the delivery, retried after a 500, with each attempt; alert rules
 *   and maintenance windows are listed.
 * axe finds no serious or critical violation on any of these pages, light or dark; nothing is
 * wider than the screen at 375 px. Screenshots at 375 and 1440 px go to test-results/dashboard/,
 * and into docs/dashboard/ with UPDATE_DOC_SCREENSHOTS=1.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { loginRecording } from "@conveyor/testing/recordings";
import { createStack, type Stack } from "@conveyor/testing/stack";
import type { Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { dashboardHarness, viewport, WIDTHS } from "./dashboard-helpers.ts";

/** The screenshots docs/dashboard.md shows (every one is written to test-results/dashboard). */
const DOC_PAGES = ["suites", "suite", "schedules", "schedule", "channels", "channel"];
/** The path of the receiver's URL: a credential, as a Slack webhook URL's is. */
const PATH_SECRET = "/hooks/T0001/B0001/path-that-is-a-credential";

let stack: Stack;
let site: FixtureSite;
let receiver: http.Server;
let apiKey: string;
let suiteId: string;
let scheduleId: string;
let channelId: string;
let webhookSecret: string;
/** Requests the receiver got; it answers the first 500 and the others 200. */
let received = 0;
const dashboard = dashboardHarness({ apiUrl: () => stack.apiUrl, docPages: DOC_PAGES });
const { newPage, signIn, seriousViolations, screenshot } = dashboard;

beforeAll(async () => {
  await dashboard.start();
  site = await startFixtureSite();
  receiver = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      received += 1;
      res.writeHead(received === 1 ? 500 : 200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  stack = await createStack("dashboard-suites");
  // Schedules every 2 s (the default minimum interval is 60 s).
  await stack.startApi({ SCHEDULE_MIN_INTERVAL_S: "1" });
  await stack.startWorker("w-dashboard-suites", {
    WORKER_CONCURRENCY: "2",
    // A failed delivery attempt is retried 300 ms later, not 5 s.
    NOTIFY_RETRY_SCHEDULE_MS: "0,300,300,300",
  });
  apiKey = await stack.createProject("shop");
});

afterAll(async () => {
  await dashboard.close();
  await stack?.stop();
  await site?.close();
  receiver?.closeAllConnections();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
});

afterEach(() => {
  // Uncaught errors of the dashboard's pages: any is a failure.
  expect(dashboard.pageErrors.splice(0)).toEqual([]);
});

async function storeRecording(name: string): Promise<string> {
  const response = await stack.request("POST", "/api/recordings", { ...loginRecording(site.url), name });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body.id as string;
}

describe("the suites, schedules and channels pages", () => {
  it("lists a suite; Run suite starts a suite run that appears, links to its runs and turns passed", async () => {
    const ids = [await storeRecording("login"), await storeRecording("login again")];
    const suite = await stack.request("POST", "/api/suites", {
      name: "checkout smoke",
      recordingIds: ids,
      maxParallel: 1,
      failFast: true,
    });
    expect(suite.status, JSON.stringify(suite.body)).toBe(201);
    suiteId = suite.body.id;
    const { context, page } = await newPage();
    try {
      await signIn(page, apiKey);
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Suites" }).click();
      await page.getByRole("heading", { name: "Suites", level: 1 }).waitFor();
      const row = page.getByRole("row").filter({ hasText: "checkout smoke" });
      await row.waitFor();
      expect(await row.getByRole("cell").allTextContents()).toEqual([
        `checkout smoke${suiteId}`,
        "2 recordings",
        "1",
        "yes",
        expect.any(String),
      ]);
      await row.getByRole("link", { name: "checkout smoke" }).click();
      await page.getByRole("heading", { name: "checkout smoke", level: 1 }).waitFor();
      // Named once the recordings are read.
      const members = page.getByRole("list", { name: "Recordings, in order" }).getByRole("listitem");
      await expect.poll(() => members.allTextContents()).toEqual([`login ${ids[0]}`, `login again ${ids[1]}`]);
      await page.getByText("No suite runs yet.").waitFor();

      await page.getByRole("button", { name: "Run suite" }).click();
      await page
        .getByRole("status")
        .getByText(/Started suite run srn_/)
        .waitFor();
      const listed = await stack.request("GET", `/api/suite-runs?suiteId=${suiteId}`);
      expect(listed.body.items).toHaveLength(1);
      const suiteRunId = listed.body.items[0].id as string;
      expect(listed.body.items[0].total).toBe(2);
      const suiteRun = page.getByTestId("suite-run").filter({ hasText: suiteRunId });
      await suiteRun.waitFor();
      // Live: the suite run's status follows its runs without a reload.
      await suiteRun.locator(".badge", { hasText: "passed" }).waitFor({ timeout: 90_000 });
      expect(await suiteRun.getByRole("cell").nth(2).textContent()).toBe("2/2 passed");

      const runsLink = suiteRun.getByRole("link", { name: `Runs of suite run ${suiteRunId}` });
      expect(await runsLink.getAttribute("href")).toBe(`/ui/runs?suiteRunId=${suiteRunId}`);
      await runsLink.click();
      await page.waitForURL(`**/ui/runs?suiteRunId=${suiteRunId}`);
      await page.getByRole("heading", { name: "Runs", level: 1 }).waitFor();
      await page.getByRole("link", { name: "login again" }).waitFor();
    } finally {
      await context.close();
    }
  });

  it("shows a schedule's next times and its fire log: a manual fire, then times skipped while paused, with the reason", async () => {
    const recordingId = await storeRecording("login scheduled");
    // Its first time comes after the pause below: every time it reaches is logged skipped.
    const startAt = new Date(Math.ceil((Date.now() + 8000) / 1000) * 1000);
    const created = await stack.request("POST", "/api/schedules", {
      name: "login every 2 s",
      recordingId,
      everySeconds: 2,
      startAt: startAt.toISOString(),
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    scheduleId = created.body.id;
    const paused = await stack.request("POST", `/api/schedules/${scheduleId}/pause`, { reason: "site maintenance" });
    expect(paused.status).toBe(200);
    const onTime = (iso: string | null) => {
      const at = Date.parse(iso ?? "");
      return at >= startAt.getTime() && (at - startAt.getTime()) % 2000 === 0;
    };

    const { context, page } = await newPage();
    try {
      await signIn(page, apiKey);
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Schedules" }).click();
      await page.getByRole("heading", { name: "Schedules", level: 1 }).waitFor();
      const row = page.getByRole("row").filter({ hasText: "login every 2 s" });
      await row.waitFor();
      const cells = row.getByRole("cell");
      expect(await cells.nth(1).textContent()).toBe("every 2 s");
      await row.getByRole("cell", { name: "Recording login scheduled" }).waitFor();
      expect(await cells.nth(3).textContent()).toBe("pausedsite maintenance");
      // The next scheduled time: one of the schedule's, shown while paused too.
      expect(onTime(await cells.nth(4).locator("time").getAttribute("datetime"))).toBe(true);
      expect(await cells.nth(4).textContent()).toContain("if resumed");

      await row.getByRole("link", { name: "login every 2 s" }).click();
      await page.getByRole("heading", { name: "login every 2 s", level: 1 }).waitFor();
      const next = await page
        .getByRole("list", { name: "Next times" })
        .locator("time")
        .evaluateAll((times) => times.map((t) => t.getAttribute("datetime")));
      // Up to 5, those still ahead.
      expect(next.length).toBeGreaterThan(0);
      expect(next.length).toBeLessThanOrEqual(5);
      for (const at of next) expect(onTime(at), String(at)).toBe(true);
      await page.getByText("No fires yet.").waitFor();

      // Run now: a manual fire, whatever the pause, with its run.
      await page.getByRole("button", { name: "Run now" }).click();
      const manual = page.getByTestId("fire").filter({ hasText: "manual" });
      await manual.waitFor();
      expect(await manual.locator(".badge").allTextContents()).toEqual(["started", "manual"]);
      const [fire] = (await stack.request("GET", `/api/schedules/${scheduleId}/fires`)).body.items;
      expect(fire).toMatchObject({ manual: true, outcome: "started" });
      expect(await manual.getByRole("link").textContent()).toBe(fire.runId);

      // The worker's tick logs each time reached while paused, with the pause's reason.
      const skipped = page.getByTestId("fire").filter({ hasText: "skipped: paused" }).first();
      await skipped.waitFor({ timeout: 30_000 });
      expect(await skipped.getByRole("cell").last().textContent()).toBe("site maintenance");
      expect(await skipped.getByRole("cell").nth(2).textContent()).toBe("nothing");
      expect(await skipped.locator(".badge").getAttribute("title")).toBe("skipped_paused");

      // Resume, then pause again with a reason of our own (both with the session's CSRF token).
      const state = page.getByTestId("schedule-state");
      await page.getByRole("button", { name: "Resume" }).click();
      await state.getByText("active").waitFor();
      await page.getByLabel("Reason (optional)").fill("dashboard pause");
      await page.getByRole("button", { name: "Pause" }).click();
      await state.getByText("dashboard pause").waitFor();
      const after = await stack.request("GET", `/api/schedules/${scheduleId}`);
      expect(after.body).toMatchObject({ paused: true, pauseReason: "dashboard pause" });
    } finally {
      await context.close();
    }
  });

  it("lists a channel without its secrets, its alert rules and maintenance windows; Send test shows the delivery and its attempts", async () => {
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}${PATH_SECRET}`;
    const created = await stack.request("POST", "/api/channels", { type: "webhook", name: "pager bridge", url });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    channelId = created.body.channel.id;
    webhookSecret = created.body.secret;
    expect(webhookSecret).toMatch(/^whsec_/);
    const rule = await stack.request("POST", "/api/alert-rules", {
      name: "smoke failures",
      scope: "suite",
      scopeValue: suiteId,
      events: ["run.failed", "run.recovered"],
      afterConsecutiveFailures: 2,
      channelIds: [channelId],
    });
    expect(rule.status, JSON.stringify(rule.body)).toBe(201);
    const window = await stack.request("POST", "/api/maintenance-windows", {
      scope: "schedule",
      scopeValue: scheduleId,
      endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      mode: "silence",
      reason: "deploy freeze",
    });
    expect(window.status, JSON.stringify(window.body)).toBe(201);
    const noSecrets = async (page: Page) => {
      const html = await page.content();
      expect(html).not.toContain(PATH_SECRET);
      expect(html).not.toContain("path-that-is-a-credential");
      expect(html).not.toContain(webhookSecret);
      expect(html).not.toContain(webhookSecret.slice("whsec_".length));
    };

    const { context, page } = await newPage();
    try {
      await signIn(page, apiKey);
      await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Channels" }).click();
      await page.getByRole("heading", { name: "Notification channels", level: 1 }).waitFor();
      const row = page.getByRole("table", { name: "Channels" }).getByRole("row").filter({ hasText: "pager bridge" });
      await row.waitFor();
      const port = (receiver.address() as AddressInfo).port;
      expect(await row.getByRole("cell").allTextContents()).toEqual([
        `pager bridge${channelId}`,
        "Webhook",
        `http://127.0.0.1:${port}/…`,
        "enabled",
      ]);
      const ruleRow = page
        .getByRole("table", { name: "Alert rules" })
        .getByRole("row")
        .filter({ hasText: "smoke failures" });
      expect(await ruleRow.getByRole("cell").nth(2).textContent()).toBe("run.failed, run.recovered");
      expect(await ruleRow.getByRole("link", { name: "pager bridge" }).getAttribute("href")).toBe(
        `/ui/channels/${channelId}`,
      );
      const windowRow = page
        .getByRole("table", { name: "Maintenance windows" })
        .getByRole("row")
        .filter({ hasText: "deploy freeze" });
      expect(await windowRow.locator(".badge").textContent()).toBe("active");
      await noSecrets(page);

      await row.getByRole("link", { name: "pager bridge" }).click();
      await page.getByRole("heading", { name: "pager bridge", level: 1 }).waitFor();
      await page.getByText("No deliveries yet.").waitFor();
      await page.getByRole("button", { name: "Send test" }).click();
      await page
        .getByRole("status")
        .getByText(/Test notification queued: delivery dlv_/)
        .waitFor();
      const delivery = page.getByTestId("delivery").first();
      // The receiver answers 500, then 200: delivered on the second attempt, 300 ms later.
      await delivery.locator(".badge", { hasText: "delivered" }).waitFor({ timeout: 30_000 });
      expect(await delivery.getByRole("cell").nth(2).textContent()).toBe("HTTP 200");
      await delivery.getByText("2 attempts").click();
      const attempts = await delivery.locator(".attempt-log li").allTextContents();
      expect(attempts).toHaveLength(2);
      expect(attempts[0]).toContain("HTTP 500");
      expect(attempts[1]).toContain("HTTP 200");
      expect(received).toBe(2);
      await noSecrets(page);
    } finally {
      await context.close();
    }
  });

  it("has no serious or critical accessibility violation on these pages, light or dark, at 375 and 1440 px", async () => {
    const pages: { name: string; path: string; ready: (page: Page) => Promise<unknown> }[] = [
      { name: "suites", path: "/suites", ready: (p) => p.getByTestId("suite-run").first().waitFor() },
      { name: "suite", path: `/suites/${suiteId}`, ready: (p) => p.getByTestId("suite-run").first().waitFor() },
      { name: "schedules", path: "/schedules", ready: (p) => p.getByRole("table").waitFor() },
      { name: "schedule", path: `/schedules/${scheduleId}`, ready: (p) => p.getByTestId("fire").first().waitFor() },
      { name: "channels", path: "/channels", ready: (p) => p.getByRole("table", { name: "Alert rules" }).waitFor() },
      {
        name: "channel",
        path: `/channels/${channelId}`,
        // With its attempts shown.
        ready: (p) => p.getByTestId("delivery").first().getByText("2 attempts").click(),
      },
      {
        name: "not-found",
        path: "/schedules/sch_0000000000000000000000000",
        ready: (p) => p.getByText("This schedule does not exist in this project.").waitFor(),
      },
    ];
    const { context, page } = await newPage();
    try {
      await signIn(page, apiKey);
      for (const entry of pages) {
        await page.emulateMedia({ colorScheme: "light" });
        await page.setViewportSize(viewport(1440));
        await page.goto(`${stack.apiUrl}/ui${entry.path}`);
        await entry.ready(page);
        expect(await seriousViolations(page), entry.name).toEqual([]);
        for (const width of WIDTHS) {
          await page.setViewportSize(viewport(width));
          // Nothing wider than the screen at 375 px: the page scrolls down, not sideways.
          const overflow = await dashboard.overflow(page);
          expect(overflow.px, `${entry.name} at ${width} px: ${overflow.wide.join(", ")}`).toBeLessThanOrEqual(0);
          if (entry.name !== "not-found") await screenshot(page, `${entry.name}-${width}`);
        }
        // The dark theme follows the system: the same page, its colours switched.
        await page.setViewportSize(viewport(1440));
        await page.emulateMedia({ colorScheme: "dark" });
        expect(await seriousViolations(page), `${entry.name}, dark`).toEqual([]);
        if (entry.name !== "not-found") await screenshot(page, `dark-${entry.name}-1440`);
      }
    } finally {
      await context.close();
    }
  }, 240_000);
});
