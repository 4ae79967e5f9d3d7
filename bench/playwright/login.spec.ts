/** The login flow of bench/lib/recordings.ts, BENCH_N times, against BENCH_SITE_URL. */
import { expect, test } from "@playwright/test";

const siteUrl = process.env.BENCH_SITE_URL ?? "http://127.0.0.1:3999";
const n = Number(process.env.BENCH_N ?? 4);

for (let i = 0; i < n; i++) {
  test(`login ${i}`, async ({ page }) => {
    await page.goto(`${siteUrl}/login`);
    await page.locator("#username").fill("alice");
    await page.getByTestId("password").fill("secret");
    await page.getByTestId("login-button").click();
    await expect(page).toHaveURL(/\/welcome/, { timeout: 3000 });
    await expect(page.locator("#greeting")).toHaveText("Welcome, alice", { timeout: 2000 });
  });
}
