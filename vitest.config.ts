import { defineConfig } from "vitest/config";

// One run over every package. Unit tests sit beside their sources (src/**/*.test.ts); integration
// and end-to-end tests under test/. Each file isolates itself (own database, own Redis prefix).
//
// Two projects: everything else runs two files at a time; the fault-injection suite (test/faults:
// each file kills and restarts real processes, with several browsers) runs afterwards, one file at
// a time, so that a run's outcome there comes from the fault injected and not from four browsers
// fighting over two cores.
const FAULTS = "test/faults/**/*.test.ts";

export const config = defineConfig({
  test: {
    testTimeout: 60_000,
    // Suites start API, worker and Chromium processes in beforeAll: on a loaded machine that can take a minute.
    hookTimeout: 120_000,
    pool: "forks",
    // 2 cores: end-to-end files start browsers and processes of their own.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    teardownTimeout: 20_000,
    projects: [
      {
        extends: true,
        test: {
          name: "main",
          include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
          exclude: [FAULTS, "**/node_modules/**"],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "faults",
          include: [FAULTS],
          fileParallelism: false,
          // A fault test waits for every run to settle after the fault (audits allow 90 s).
          testTimeout: 180_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
// biome-ignore lint/style/noDefaultExport: vitest reads the default export
export default config;
