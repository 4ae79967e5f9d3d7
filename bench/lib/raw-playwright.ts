/** The login flow written directly against playwright-core: one browser, a new context per run. */
import { type Browser, chromium } from "playwright-core";
import { DEFAULT_CHROMIUM_ARGS } from "../../packages/runner/src/pool.ts";

export async function launchRaw(): Promise<Browser> {
  return chromium.launch({ executablePath: "/usr/bin/chromium", args: [...DEFAULT_CHROMIUM_ARGS], headless: true });
}

async function loginOnce(browser: Browser, siteUrl: string): Promise<void> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${siteUrl}/login`);
    await page.locator("#username").fill("alice");
    await page.getByTestId("password").fill("secret");
    await page.getByTestId("login-button").click();
    await page.waitForURL(/\/welcome/, { timeout: 3000 });
    const text = await page.locator("#greeting").textContent({ timeout: 2000 });
    if (text !== "Welcome, alice") throw new Error(`unexpected greeting ${text}`);
  } finally {
    await context.close();
  }
}

/** `n` logins, `concurrency` at a time; returns runs/s. */
export async function rawLoop(browser: Browser, siteUrl: string, n: number, concurrency: number): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        next += 1;
        await loginOnce(browser, siteUrl);
      }
    }),
  );
  return n / ((performance.now() - started) / 1000);
}
