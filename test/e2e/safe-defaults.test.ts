/**
 * Safe defaults of a real API process: helmet's headers on its responses, and a Swagger UI at
 * /docs that still works under its Content-Security-Policy — loaded in a real Chromium, which
 * renders it, runs "Try it out" against the API, and reports no policy violation.
 */

import { resolveChromium } from "@conveyor/runner";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let stack: Stack;
let browser: Browser;

beforeAll(async () => {
  stack = await createStack("safe-defaults");
  await stack.startApi();
  browser = await chromium.launch({
    executablePath: resolveChromium({ chromiumPath: process.env.CHROMIUM_PATH }).path,
  });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe("security headers of a running API", () => {
  it("every response carries helmet's headers; the API's policy allows nothing", async () => {
    for (const path of ["/api/health", "/api/runs", "/no/such/route"]) {
      const response = await fetch(`${stack.apiUrl}${path}`, { headers: { "x-request-id": "from-the-client" } });
      await response.arrayBuffer();
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp, path).toContain("default-src 'none'");
      expect(csp, path).toContain("frame-ancestors 'none'");
      expect(response.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(response.headers.get("x-frame-options"), path).toBe("DENY");
      expect(response.headers.get("x-request-id"), path).toMatch(/^req_[0-9a-f]{20}$/);
    }
  });
});

describe("the Swagger UI at /docs in Chromium", () => {
  /** CSP violations the page saw (reported in the page and on the console), and page errors. */
  async function openDocs(page: Page): Promise<{ violations: string[]; errors: string[] }> {
    const violations: string[] = [];
    const errors: string[] = [];
    await page.exposeFunction("reportViolation", (text: string) => violations.push(text));
    await page.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (event) => {
        const report = (window as unknown as { reportViolation(text: string): void }).reportViolation;
        report(
          `${event.violatedDirective} blocked ${event.blockedURI || "(inline)"} at ${event.sourceFile}:${event.lineNumber}`,
        );
      });
    });
    page.on("console", (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) violations.push(message.text());
    });
    page.on("pageerror", (error) => errors.push(error.message));
    const response = await page.goto(`${stack.apiUrl}/docs`, { waitUntil: "load" });
    expect(response?.status()).toBe(200);
    expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");
    return { violations, errors };
  }

  it("renders the API's title and operations, runs Try it out, and reports no CSP violation", async () => {
    const page = await browser.newPage();
    try {
      const { violations, errors } = await openDocs(page);
      // The title comes from the OpenAPI document: the bundle ran and fetched /docs/json.
      await expect
        .poll(async () => (await page.locator(".information-container .title").textContent({ timeout: 30_000 })) ?? "")
        .toContain("Conveyor API");
      const health = page.locator(".opblock-summary", { hasText: "/api/health" }).first();
      await health.waitFor({ timeout: 30_000 });
      // Styles loaded: Swagger UI colours a GET operation's block from its stylesheet.
      const background = await page
        .locator(".opblock.opblock-get")
        .first()
        .evaluate((element) => getComputedStyle(element).backgroundColor);
      expect(background).not.toBe("rgba(0, 0, 0, 0)");

      // "Try it out" on GET /api/health: a request from the page to the API itself.
      await page
        .locator(".opblock-summary-path", { hasText: /^\/api\/health$/ })
        .first()
        .click();
      await page.getByRole("button", { name: "Try it out" }).first().click();
      await page.getByRole("button", { name: "Execute" }).first().click();
      await expect
        .poll(async () => page.locator(".live-responses-table tbody .response-col_status").first().textContent(), {
          timeout: 30_000,
        })
        .toContain("200");
      // An operation with a request body: its example and schema render too.
      await page
        .locator(".opblock-post .opblock-summary-path", { hasText: /^\/api\/runs$/ })
        .first()
        .click();
      await page.locator(".opblock-post.is-open .opblock-body").first().waitFor({ timeout: 30_000 });
      await page.locator(".opblock-post.is-open").getByRole("tab", { name: "Schema" }).first().click();
      await page.locator(".opblock-post.is-open .model-box").first().waitFor({ timeout: 30_000 });

      expect(violations, violations.join("\n")).toEqual([]);
      expect(errors, errors.join("\n")).toEqual([]);
    } finally {
      await page.close();
    }
  });

  it("cannot be framed by another page", async () => {
    const page = await browser.newPage();
    try {
      const blocked: string[] = [];
      page.on("console", (message) => {
        if (/frame-ancestors|Refused to (display|frame)/i.test(message.text())) blocked.push(message.text());
      });
      // A page of another origin (data: is opaque) embedding the docs.
      await page.setContent(`<iframe src="${stack.apiUrl}/docs" width="800" height="600"></iframe>`);
      await expect.poll(() => blocked.length, { timeout: 15_000 }).toBeGreaterThan(0);
      const frame = page.frames().find((f) => f.url().startsWith(stack.apiUrl));
      const title = frame ? await frame.locator(".information-container .title").count() : 0;
      expect(title).toBe(0);
    } finally {
      await page.close();
    }
  });
});
