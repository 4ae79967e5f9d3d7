import { defineConfig } from "vitest/config";

// One run over every package. Unit tests sit beside their sources (src/**/*.test.ts); integration
// and end-to-end tests under test/. Each file isolates itself (own database, own Redis prefix).
//
// Three projects, each file in exactly one of them (a file matched by two would run, and count,
// twice under `pnpm test`):
// - unit: the tests beside the sources, which need no Postgres, Redis, Chromium or child process
//   (`pnpm test:unit` runs only these, in seconds). A test that needs a service goes under the
//   package's test/ directory, or in UNIT_EXCEPTIONS below if it has to stay beside its source.
// - main: everything else but the faults, two files at a time.
// - faults: the fault-injection suite (test/faults: each file kills and restarts real processes,
//   with several browsers) runs last, one file at a time, so that a run's outcome there comes from
//   the fault injected and not from four browsers fighting over two cores.
// - Also alone, with the faults: end-to-end files whose assertions are about pacing across
//   several worker processes (a capped project's backlog draining, heartbeat counters, a queue-depth
//   series going up and back to 0). Beside a file driving two browsers they missed their waits.
const FAULTS = ["test/faults/**/*.test.ts", "test/e2e/admission.test.ts", "test/e2e/health-metrics.test.ts"];
const UNIT = "packages/*/src/**/*.test.ts";
/** Tests beside their sources that are not unit tests: they start processes of their own. */
const UNIT_EXCEPTIONS = [
  // Spawns a few dozen node processes to check that no log line is lost at exit or SIGKILL.
  "packages/core/src/logger.test.ts",
];

export const config = defineConfig({
  test: {
    testTimeout: 60_000,
    // Suites start API, worker and Chromium processes in beforeAll: on a loaded machine that can take a minute.
    hookTimeout: 120_000,
    pool: "forks",
    // 2 cores: end-to-end files start browsers and processes of their own. Threads: the unit
    // project only (see there).
    poolOptions: { forks: { maxForks: 2, minForks: 1 }, threads: { maxThreads: 2, minThreads: 1, isolate: false } },
    teardownTimeout: 20_000,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: [UNIT],
          exclude: [...UNIT_EXCEPTIONS, "**/node_modules/**"],
          // Worker threads whose files share one module graph instead of each loading its own
          // (most of their time is imports; vitest sets isolation per pool, hence a pool of their
          // own): so a unit test must not mock modules or leave globals changed.
          pool: "threads",
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "main",
          include: [...UNIT_EXCEPTIONS, "packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
          exclude: [...FAULTS, "**/node_modules/**"],
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: "faults",
          include: FAULTS,
          fileParallelism: false,
          // A fault test waits for every run to settle after the fault (audits allow 90 s).
          testTimeout: 180_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
// biome-ignore lint/style/noDefaultExport: vitest reads the default export
export default config;
