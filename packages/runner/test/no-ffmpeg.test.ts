// Must come first: playwright-core reads PLAYWRIGHT_BROWSERS_PATH once, when it loads.
import "./playwright-no-ffmpeg.ts";

import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrowserPool } from "../src/pool.ts";
import { runRecording, testChromiumPath } from "./helpers.ts";
import { removeEmptyBrowsersDir } from "./playwright-no-ffmpeg.ts";

// Video is evidence, not the test: without Playwright's ffmpeg a run asking for video still runs
// (and traces), says why in the log, and reports no video.

let site: FixtureSite;
let pool: BrowserPool;

beforeAll(async () => {
  site = await startFixtureSite();
  pool = new BrowserPool({ executablePath: testChromiumPath() });
}, 30_000);

afterAll(async () => {
  await pool?.close();
  await site?.close();
  removeEmptyBrowsersDir();
});

describe("video without ffmpeg", () => {
  it("runs without video and warns", async () => {
    const warnings: string[] = [];
    const result = await runRecording(
      pool,
      {
        name: "no ffmpeg",
        startUrl: `${site.url}/title`,
        actions: [{ type: "assert", check: "pageTitle", expected: "Fixture Title" }],
      },
      { options: { video: true, trace: true }, logger: { warn: (_obj, msg) => warnings.push(msg) } },
    );
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
    expect(result.artifacts).toEqual({ trace: "run_test/1/trace.zip" });
    expect(warnings).toEqual([
      "video needs Playwright's ffmpeg (npx playwright install ffmpeg); this run is recorded without video",
    ]);
  });
});
