/**
 * Playwright Test side of the browser-throughput measure: the login flow as BENCH_N tests with
 * BENCH_WORKERS workers, on the system Chromium (no browser download).
 */
import { defineConfig } from "@playwright/test";
import { DEFAULT_CHROMIUM_ARGS } from "../../packages/runner/src/pool.ts";

// biome-ignore lint/style/noDefaultExport: Playwright Test reads its configuration from the default export.
export default defineConfig({
  testDir: ".",
  testMatch: "login.spec.ts",
  outputDir: ".output",
  fullyParallel: true,
  workers: Number(process.env.BENCH_WORKERS ?? 2),
  reporter: "dot",
  retries: 0,
  use: {
    headless: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [...DEFAULT_CHROMIUM_ARGS],
    },
    trace: "off",
    screenshot: "off",
    video: "off",
  },
});
