/**
 * Bull Board at /admin/queues on real Redis, and its page in a real Chromium: operators only
 * (no credentials, a project key: 401; the admin token or an operator's session: the board), the
 * three queues listed, read-only unless BULL_BOARD_WRITE (a failed job cannot be retried by
 * hand), and a page that renders under its own Content-Security-Policy, which refuses only the
 * third-party fonts it asks for.
 */
import { RUNS_QUEUE } from "@conveyor/core";
import { resolveChromium } from "@conveyor/runner";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, auth, createProjectViaApi, createTestApp, type TestApp } from "./helpers.ts";

let t: TestApp;
let writable: TestApp;
let base: string;
let browser: Browser;
let failedJobId: string;

beforeAll(async () => {
  t = await createTestApp("bull-board");
  writable = await createTestApp("bull-board-write", { bullBoardWrite: true });
  base = await t.app.listen({ port: 0, host: "127.0.0.1" });
  // A failed job in the runs queue, as the queue leaves one after its attempts.
  const job = await t.inspectQueue.add("run", { runId: "run_x", projectId: "prj_x" }, { jobId: "job-failed" });
  failedJobId = job.id ?? "";
  await t.redis.zadd(t.inspectQueue.toKey("failed"), Date.now(), failedJobId);
  await t.redis.lrem(t.inspectQueue.toKey("wait"), 0, failedJobId);
  await t.redis.hset(t.inspectQueue.toKey(failedJobId), "failedReason", "gave up", "finishedOn", String(Date.now()));
  browser = await chromium.launch({
    executablePath: resolveChromium({ chromiumPath: process.env.CHROMIUM_PATH }).path,
  });
});

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await writable?.close();
});

describe("Bull Board", () => {
  it("is for operators only", async () => {
    const project = await createProjectViaApi(t.app, "bull-board");
    for (const headers of [{}, auth(project.apiKey), auth("wrong-admin-token-0123456789")]) {
      for (const url of ["/admin/queues", "/admin/queues/api/queues"]) {
        const response = await t.app.inject({ method: "GET", url, headers });
        expect(response.statusCode, `${url} ${JSON.stringify(headers)}`).toBe(401);
      }
    }
    const page = await t.app.inject({ method: "GET", url: "/admin/queues", headers: auth(ADMIN_TOKEN) });
    expect(page.statusCode).toBe(200);
    expect(page.headers["content-type"]).toContain("text/html");
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
  });

  it("lists the queues, read-only unless BULL_BOARD_WRITE", async () => {
    const queues = await t.app.inject({ method: "GET", url: "/admin/queues/api/queues", headers: auth(ADMIN_TOKEN) });
    expect(queues.statusCode, queues.body).toBe(200);
    const body = queues.json() as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(body.queues.map((queue) => queue.name).sort()).toEqual(["notifications", RUNS_QUEUE, "schedules"].sort());
    expect(body.queues.every((queue) => queue.readOnlyMode)).toBe(true);

    const retry = await t.app.inject({
      method: "PUT",
      url: `/admin/queues/api/queues/${RUNS_QUEUE}/${failedJobId}/retry/failed`,
      headers: auth(ADMIN_TOKEN),
    });
    expect(retry.statusCode).toBeGreaterThanOrEqual(400);
    expect(await t.inspectQueue.getJobState(failedJobId)).toBe("failed");

    const open = await writable.app.inject({
      method: "GET",
      url: "/admin/queues/api/queues",
      headers: auth(ADMIN_TOKEN),
    });
    const writableQueues = (open.json() as { queues: { readOnlyMode: boolean }[] }).queues;
    expect(writableQueues.every((queue) => !queue.readOnlyMode)).toBe(true);
  });

  it("renders in Chromium for an operator's session, under its CSP, without a violation", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations: string[] = [];
    const errors: string[] = [];
    page.on("console", (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(error.message));
    try {
      // Sign in as the operator, as the dashboard does: the session cookie is what the page sends.
      const signIn = await page.request.post(`${base}/api/session`, { data: { adminToken: ADMIN_TOKEN } });
      expect(signIn.status()).toBe(201);
      const response = await page.goto(`${base}/admin/queues`, { waitUntil: "load" });
      expect(response?.status()).toBe(200);
      await expect
        .poll(async () => (await page.locator("body").textContent()) ?? "", { timeout: 30_000 })
        .toContain(RUNS_QUEUE);
      await expect.poll(async () => (await page.locator("body").textContent()) ?? "").toContain("notifications");
      // Bull Board's page asks Google for its fonts; the policy keeps operators' browsers from
      // calling a third party (system fonts stand in). Nothing else is refused.
      expect(violations.filter((text) => !text.includes("https://fonts.googleapis.com/"))).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
