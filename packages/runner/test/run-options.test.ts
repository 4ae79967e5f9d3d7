// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recordings spell variables as ${NAME}
// Must come first (a bare import, so import sorting leaves it there): it tells Playwright where an
// ffmpeg is before playwright-core loads.
import "./playwright-ffmpeg.ts";

import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ActionResult } from "../src/execute.ts";
import { BrowserPool } from "../src/pool.ts";
import { PNG_SIGNATURE, runRecording, testChromiumPath } from "./helpers.ts";
import { removeFfmpegLink, videoAvailable } from "./playwright-ffmpeg.ts";

// Run options (timing, screenshots, video, trace), variables and redaction, and the counts
// invariant, end to end on real Chromium.

let site: FixtureSite;
let pool: BrowserPool;

/** Why the video test is skipped where no ffmpeg is found: in its name and on the console. */
const NO_FFMPEG =
  "ffmpeg not found: install it (apt-get install ffmpeg, or npx playwright install ffmpeg) to run the video test";
if (!videoAvailable) console.warn(`run-options.test.ts: ${NO_FFMPEG}`);
const VIDEO_TEST = `records a video and a trace, stores them and removes the temporary files${
  videoAvailable ? "" : ` (skipped: ${NO_FFMPEG})`
}`;

beforeAll(async () => {
  site = await startFixtureSite();
  pool = new BrowserPool({ executablePath: testChromiumPath() });
  await pool.warm();
}, 30_000);

afterAll(async () => {
  await pool?.close();
  await site?.close();
  removeFfmpegLink();
});

/** From the end of the first action to the end of the last, in ms: the pauses, not the setup. */
function pacedMs(actions: readonly ActionResult[]): number {
  const first = actions[0];
  const last = actions[actions.length - 1];
  if (first === undefined || last === undefined) throw new Error("no actions");
  return last.startedAt.getTime() + last.durationMs - (first.startedAt.getTime() + first.durationMs);
}

const paced = (delayBeforeMs: number) => ({
  name: "paced",
  actions: [
    { type: "navigate" as const, url: `${site.url}/title` },
    { type: "assert" as const, check: "pageTitle" as const, expected: "Fixture Title", delayBeforeMs },
    { type: "assert" as const, check: "pageLoad" as const, expected: "", delayBeforeMs },
  ],
});

describe("timing", () => {
  // The pause each action honoured is reported exactly; wall-clock checks are lower bounds only
  // (a loaded machine makes everything slower, never faster).
  const pauses = (actions: readonly ActionResult[]) => actions.map((a) => a.pausedMs);

  it("realtime waits each recorded delay; fast does not", async () => {
    const realtime = await runRecording(pool, paced(300), { options: { timing: "realtime", speed: 1 } });
    expect(realtime.outcome).toBe("passed");
    expect(pauses(realtime.actions)).toEqual([0, 300, 300]);
    expect(pacedMs(realtime.actions)).toBeGreaterThanOrEqual(590);

    const fast = await runRecording(pool, paced(300), { options: { timing: "fast" } });
    expect(fast.outcome).toBe("passed");
    expect(pauses(fast.actions)).toEqual([0, 0, 0]);
  });

  it("scales delays by speed and caps them at maxDelayMs", async () => {
    const quick = await runRecording(pool, paced(800), { options: { timing: "realtime", speed: 4 } });
    expect(quick.outcome).toBe("passed");
    expect(pauses(quick.actions)).toEqual([0, 200, 200]);
    expect(pacedMs(quick.actions)).toBeGreaterThanOrEqual(390);

    const capped = await runRecording(pool, paced(3_000), { options: { timing: "realtime", maxDelayMs: 100 } });
    expect(capped.outcome).toBe("passed");
    expect(pauses(capped.actions)).toEqual([0, 100, 100]);
    expect(pacedMs(capped.actions)).toBeGreaterThanOrEqual(190);
  });

  it("stays over a hovered element for its duration only in realtime", async () => {
    const hover = {
      name: "hover",
      startUrl: `${site.url}/hover`,
      actions: [{ type: "hover" as const, selector: "#menu", durationMs: 400 }],
    };
    const realtime = await runRecording(pool, hover, { options: { timing: "realtime" } });
    expect(realtime.actions[0]?.pausedMs).toBe(400);
    expect(realtime.actions[0]?.durationMs).toBeGreaterThanOrEqual(390);
    const fast = await runRecording(pool, hover);
    expect(fast.outcome).toBe("passed");
    expect(fast.actions[0]?.pausedMs).toBe(0);
  });

  it("a run timeout interrupts a long recorded pause", { timeout: 90_000 }, async () => {
    const result = await runRecording(pool, paced(60_000), {
      runTimeoutMs: 2_500,
      options: { timing: "realtime", maxDelayMs: 60_000 },
    });
    // Interrupted inside the pause: judged by the run's own clock, it ended before the 60 s pause
    // alone would have (an uninterrupted pause makes the run last at least that long).
    expect(result.durationMs).toBeLessThan(60_000);
    expect(result.outcome).toBe("failed");
    expect(result.error).toMatchObject({ message: "Run exceeded its timeout of 2500 ms", actionIndex: 1 });
  });

  it("errors on invalid run options", async () => {
    const result = await runRecording(pool, paced(0), { options: { speed: 0 } });
    expect(result.outcome).toBe("errored");
    expect(result.error?.message).toMatch(/^Invalid run options: speed: /);
  });
});

describe("evidence", () => {
  it('takes a screenshot after every action with screenshots "every"', async () => {
    const result = await runRecording(pool, paced(0), { options: { screenshots: "every" } });
    expect(result.outcome).toBe("passed");
    expect(result.actions.map((action) => action.screenshotKey)).toEqual([
      "run_test/1/action-1.png",
      "run_test/1/action-2.png",
      "run_test/1/action-3.png",
    ]);
    for (const key of ["run_test/1/action-1.png", "run_test/1/action-3.png"]) {
      const stored = result.store.entries.get(key);
      expect(stored?.contentType).toBe("image/png");
      expect(stored?.body.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    }
  });

  it('takes none with screenshots "off", not even of a failure', async () => {
    const result = await runRecording(
      pool,
      {
        name: "off",
        startUrl: `${site.url}/title`,
        actions: [{ type: "click", selector: "#missing", timeoutMs: 200 }],
      },
      { options: { screenshots: "off" } },
    );
    expect(result.outcome).toBe("failed");
    expect(result.actions[0]?.screenshotKey).toBeUndefined();
    expect(result.store.entries.size).toBe(0);
  });

  it.skipIf(!videoAvailable)(VIDEO_TEST, async () => {
    const tempDir = await mkdtemp(path.join(tmpdir(), "conveyor-evidence-test-"));
    try {
      const result = await runRecording(
        pool,
        {
          name: "evidence",
          startUrl: `${site.url}/double`,
          viewport: { width: 640, height: 480 },
          actions: [
            { type: "click", selector: "#target", clickCount: 2 },
            { type: "assert", check: "elementText", selector: "#dbl", expected: "double" },
          ],
        },
        { options: { video: true, trace: true }, tempDir },
      );
      expect(result.outcome).toBe("passed");
      expect(result.artifacts).toEqual({ video: "run_test/1/video.webm", trace: "run_test/1/trace.zip" });
      const video = result.store.entries.get("run_test/1/video.webm");
      expect(video?.contentType).toBe("video/webm");
      // WebM is Matroska: an EBML header.
      expect(video?.body.subarray(0, 4).equals(Buffer.from([0x1a, 0x45, 0xdf, 0xa3]))).toBe(true);
      const trace = result.store.entries.get("run_test/1/trace.zip");
      expect(trace?.contentType).toBe("application/zip");
      expect(trace?.body.subarray(0, 4).equals(Buffer.from("PK\x03\x04", "latin1"))).toBe(true);
      expect(trace?.body.length).toBeGreaterThan(1_000);
      expect(await readdir(tempDir)).toEqual([]);
    } finally {
      await rm(tempDir, { recursive: true, force: true });
    }
  });

  it("records nothing extra by default", async () => {
    const result = await runRecording(pool, paced(0));
    expect(result.artifacts).toEqual({});
    expect(result.store.entries.size).toBe(0);
  });
});

describe("variables and redaction", () => {
  it("uses declared defaults, and the run's value over them", async () => {
    const input = {
      name: "defaults",
      variables: [
        { name: "PAGE", default: "/title" },
        { name: "TITLE", default: "Fixture Title" },
      ],
      startUrl: `${site.url}\${PAGE}`,
      actions: [{ type: "assert" as const, check: "pageTitle" as const, expected: "${TITLE}", timeoutMs: 300 }],
    };
    expect((await runRecording(pool, input)).outcome).toBe("passed");
    const overridden = await runRecording(pool, input, { variables: { TITLE: "Other" } });
    expect(overridden.error?.message).toBe('Expected the page title to be "Other" but was "Fixture Title"');
  });

  it("redacts sensitive variables and inputs from every result field and message", async () => {
    const secret = 'p@ss word"Zq9';
    const token = "tok-4711-default";
    const reported: ActionResult[] = [];
    const result = await runRecording(
      pool,
      {
        name: "secrets",
        variables: [
          { name: "PASSWORD", sensitive: true },
          { name: "TOKEN", sensitive: true, default: token },
        ],
        actions: [
          { type: "navigate", url: `${site.url}/welcome?user=\${PASSWORD}&t=\${TOKEN}` },
          { type: "assert", check: "containsText", expected: "Welcome", timeoutMs: 1_000 },
          // A careless recording: the secret in a selector that does not match, as an optional step.
          { type: "click", selector: "[data-secret='${TOKEN}']", optional: true, timeoutMs: 200 },
          { type: "navigate", url: "/login" },
          { type: "input", selector: "#password", value: "${PASSWORD}" },
          { type: "assert", check: "elementHasValue", selector: "#password", expected: "${TOKEN}", timeoutMs: 300 },
        ],
      },
      {
        variables: { PASSWORD: secret },
        onActionResult: (actionResult) => {
          reported.push(actionResult);
        },
      },
    );
    expect(result.outcome).toBe("failed");
    expect(result.counts).toEqual({ total: 6, passed: 4, failed: 1, skipped: 1 });
    expect(result.actions[0]?.pageUrl).toBe(`${site.url}/welcome?user=[redacted]&t=[redacted]`);
    expect(result.actions[2]?.selectorsTried).toEqual(["css=[data-secret='[redacted]']"]);
    expect(result.error?.message).toBe('Expected value of "#password" to be "[redacted]" but was "[redacted]"');
    for (const text of [JSON.stringify(result), JSON.stringify(reported)]) {
      for (const form of [secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1), token]) {
        expect(text).not.toContain(form);
      }
    }
  });
});

describe("counts", () => {
  it("adds up: reported results never exceed the actions, and a pass covers all of them", async () => {
    const passed = await runRecording(pool, {
      name: "pass",
      startUrl: `${site.url}/title`,
      actions: [
        { type: "click", selector: "#missing", optional: true, timeoutMs: 200 },
        { type: "assert", check: "pageTitle", expected: "Fixture Title" },
      ],
    });
    expect(passed.outcome).toBe("passed");
    expect(passed.counts).toEqual({ total: 2, passed: 1, failed: 0, skipped: 1 });
    expect(passed.counts.passed + passed.counts.skipped).toBe(passed.counts.total);

    const failed = await runRecording(pool, {
      name: "fail",
      startUrl: `${site.url}/title`,
      actions: [
        { type: "assert", check: "pageTitle", expected: "Fixture Title" },
        { type: "click", selector: "#missing", timeoutMs: 200 },
        { type: "assert", check: "pageLoad", expected: "" },
        { type: "assert", check: "pageLoad", expected: "" },
      ],
    });
    expect(failed.outcome).toBe("failed");
    expect(failed.counts).toEqual({ total: 4, passed: 1, failed: 1, skipped: 0 });
    expect(failed.actions).toHaveLength(2);
    const { passed: p, failed: f, skipped: s, total } = failed.counts;
    expect(p + f + s).toBeLessThanOrEqual(total);
    expect(total - (p + f + s)).toBe(2);
  });
});
