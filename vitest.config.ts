import { defineConfig } from "vitest/config";

// One run over every package. Unit tests sit beside their sources (src/**/*.test.ts); integration
// and end-to-end tests under test/. Each file isolates itself (own database, own Redis prefix).
export const config = defineConfig({
  test: {
    include: ["packages/*/src/**/*.test.ts", "packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // 2 cores: end-to-end files start browsers and processes of their own.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    teardownTimeout: 20_000,
  },
});
// biome-ignore lint/style/noDefaultExport: vitest reads the default export
export default config;
