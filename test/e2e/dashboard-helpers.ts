/**
 * What the dashboard's browser tests share: the built dashboard, one real Chromium, pages whose
 * uncaught errors are collected, signing in through the sign-in form, axe's serious and critical
 * violations, the 375 px overflow check, and screenshots (to test-results/dashboard/, and into
 * docs/dashboard/ with UPDATE_DOC_SCREENSHOTS=1 for the names the docs show).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import AxeBuilder from "@axe-core/playwright";
import { resolveChromium } from "@conveyor/runner";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const ARTIFACTS = join(ROOT, "test-results", "dashboard");
export const DOC_SCREENSHOTS = join(ROOT, "docs", "dashboard");
/** A phone and a desktop, px. */
export const WIDTHS = [375, 1440] as const;

/** The viewport of a width: a phone's height below 600 px. */
export function viewport(width: number): { width: number; height: number } {
  return { width, height: width < 600 ? 800 : 900 };
}

export interface DashboardHarness {
  /** Uncaught errors of the dashboard's pages: a test file expects none after each test. */
  readonly pageErrors: string[];
  /** Builds the dashboard when its sources are newer than dist/, and launches Chromium. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** A page in a fresh context (no session) of `width` px (default 1440). */
  newPage(width?: number): Promise<{ context: BrowserContext; page: Page }>;
  /** Signs in through the sign-in form with an API key or the admin token. */
  signIn(page: Page, secret: string): Promise<void>;
  /** Serious and critical axe violations of the page as it is now, described. */
  seriousViolations(page: Page): Promise<string[]>;
  /** What is wider than the window: how many px the page scrolls sideways, and a few culprits. */
  overflow(page: Page): Promise<{ px: number; wide: string[] }>;
  /** To test-results/dashboard/<name>.png; into docs/dashboard/ too when asked and the docs show it. */
  screenshot(page: Page, name: string): Promise<void>;
}

/**
 * @param options.apiUrl the stack's API URL, read when signing in (the stack starts in beforeAll).
 * @param options.docPages prefixes of the screenshot names docs/dashboard.md shows.
 */
export function dashboardHarness(options: { apiUrl: () => string; docPages: readonly string[] }): DashboardHarness {
  const pageErrors: string[] = [];
  let browser: Browser | undefined;
  return {
    pageErrors,
    async start() {
      const build = spawnSync(process.execPath, [join(ROOT, "packages/web/scripts/ensure-built.ts")], {
        encoding: "utf8",
      });
      if (build.status !== 0) throw new Error(`dashboard build failed: ${build.stdout}${build.stderr}`);
      mkdirSync(ARTIFACTS, { recursive: true });
      browser = await chromium.launch({
        executablePath: resolveChromium({ chromiumPath: process.env.CHROMIUM_PATH }).path,
      });
    },
    async close() {
      await browser?.close();
    },
    async newPage(width = 1440) {
      if (!browser) throw new Error("dashboardHarness: start() first");
      const context = await browser.newContext({ viewport: viewport(width) });
      const page = await context.newPage();
      page.on("pageerror", (error) => void pageErrors.push(`${page.url()}: ${error.message}`));
      return { context, page };
    },
    async signIn(page, secret) {
      await page.goto(`${options.apiUrl()}/ui/`);
      await page.getByLabel("API key or admin token").fill(secret);
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByRole("button", { name: "Sign out" }).waitFor();
    },
    async seriousViolations(page) {
      const results = await new AxeBuilder({ page }).analyze();
      return results.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
    },
    async overflow(page) {
      const px = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      const wide = await page.evaluate(() =>
        Array.from(document.querySelectorAll("body *"))
          .filter((el) => el.getBoundingClientRect().right > window.innerWidth)
          .map((el) => `${el.tagName}.${el.className}`)
          .slice(0, 8),
      );
      return { px, wide };
    },
    async screenshot(page, name) {
      const file = join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path: file, fullPage: false });
      const shown = options.docPages.some((prefix) => name.startsWith(`${prefix}-`));
      if (process.env.UPDATE_DOC_SCREENSHOTS === "1" && shown) {
        mkdirSync(DOC_SCREENSHOTS, { recursive: true });
        copyFileSync(file, join(DOC_SCREENSHOTS, `${name}.png`));
      }
    },
  };
}
