import { MemoryArtifactStore } from "@conveyor/artifacts";
import { RunError } from "@conveyor/core";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { executeRecording } from "../src/execute.ts";
import { BrowserPool, type BrowserPoolOptions } from "../src/pool.ts";
import { recording, testChromiumPath } from "./helpers.ts";

let site: FixtureSite;
let pool: BrowserPool;
const warnings: string[] = [];

beforeAll(async () => {
  site = await startFixtureSite();
  pool = new BrowserPool({ executablePath: testChromiumPath(), logger: { warn: (_obj, msg) => warnings.push(msg) } });
});

afterAll(async () => {
  await pool?.close();
  await site?.close();
});

/** Runs `body` with a pool of its own, closed afterwards whatever happens; returns the closed pool. */
async function withPool(
  body: (local: BrowserPool) => Promise<void>,
  options: Partial<BrowserPoolOptions> = {},
): Promise<BrowserPool> {
  const local = new BrowserPool({ executablePath: testChromiumPath(), ...options });
  try {
    await body(local);
  } finally {
    await local.close();
  }
  return local;
}

async function crashBrowser(context: BrowserContext): Promise<void> {
  const browser = context.browser();
  if (browser === null) throw new Error("context has no browser");
  const session = await browser.newBrowserCDPSession();
  // The browser dies before it can answer.
  await session.send("Browser.crash").catch(() => undefined);
}

describe("BrowserPool", () => {
  it("launches one browser for concurrent first calls and isolates contexts", { timeout: 20_000 }, async () => {
    const [first, second] = await Promise.all([
      pool.newContext(),
      pool.newContext({ viewport: { width: 800, height: 600 } }),
    ]);
    expect(pool.launches).toBe(1);
    expect(first.browser()).toBe(second.browser());
    expect(first).not.toBe(second);
    const page = await second.newPage();
    expect(page.viewportSize()).toEqual({ width: 800, height: 600 });
    await Promise.all([first.close(), second.close()]);
  });

  it("turns a browser crash mid-run into a transient error and relaunches on next use", {
    timeout: 20_000,
  }, async () => {
    const probe = await pool.newContext();
    const run = executeRecording(pool, {
      recording: recording({
        name: "crash",
        startUrl: `${site.url}/slow?ms=30000`,
        actions: [{ type: "assert", check: "elementVisible", selector: "#done", timeoutMs: 60_000 }],
      }),
      actionTimeoutMs: 5_000,
      artifacts: new MemoryArtifactStore(),
      artifactPrefix: "run_crash/1",
    });
    setTimeout(() => void crashBrowser(probe), 500);
    const error: unknown = await run.catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RunError);
    expect(error).toMatchObject({ kind: "transient", retryable: true });

    const replacement = await pool.newContext();
    expect(replacement.browser()?.isConnected()).toBe(true);
    expect(replacement.browser()).not.toBe(probe.browser());
    expect(pool.launches).toBe(2);
    expect(warnings).toContain("browser disconnected; a new one will be launched on next use");
    await replacement.close();
  });

  it("refuses new contexts once closed", { timeout: 20_000 }, async () => {
    const local = new BrowserPool({ executablePath: testChromiumPath() });
    const context = await local.newContext();
    const browser = context.browser();
    await local.close();
    expect(browser?.isConnected()).toBe(false);
    await expect(local.newContext()).rejects.toThrow("BrowserPool is closed");
  });

  it("hands over a page prepared ahead of time, never the same context twice", { timeout: 30_000 }, async () => {
    const closed = await withPool(async (local) => {
      await local.warm();
      const first = await local.newPage();
      const browser = first.context.browser();
      // A spare is opened in the background while the first run goes on…
      await expect.poll(() => browser?.contexts().length, { timeout: 10_000 }).toBe(2);
      const spare = browser?.contexts().find((c) => c !== first.context);
      await first.page.goto(`${site.url}/login`);
      await first.context.addCookies([{ name: "session", value: "alice", url: site.url }]);
      // …and handed to the next one: unused, isolated from the first.
      const second = await local.newPage();
      expect(second.context).toBe(spare);
      expect(second.context).not.toBe(first.context);
      expect(second.page.url()).toBe("about:blank");
      expect(await second.context.cookies()).toEqual([]);
      // Another spare replaces it.
      await expect.poll(() => browser?.contexts().length, { timeout: 10_000 }).toBe(3);
      // Non-default options get a context of their own, not the spare.
      const sized = await local.newPage({ viewport: { width: 640, height: 480 } });
      expect(sized.page.viewportSize()).toEqual({ width: 640, height: 480 });
      await Promise.all([first.context.close(), second.context.close(), sized.context.close()]);
    });
    expect(closed.launches).toBe(1);
  });

  it("waits for a spare still being opened instead of opening another context", { timeout: 30_000 }, async () => {
    const closed = await withPool(async (local) => {
      // warm() starts opening a spare; the run asks for a page before it is open.
      await local.warm();
      const first = await local.newPage();
      const browser = first.context.browser();
      // It got that spare: the only context so far (the next spare has only just been asked for;
      // opening another context for the run would have left two here).
      expect(browser?.contexts()).toEqual([first.context]);
      expect(first.page.url()).toBe("about:blank");
      // The next spare is prepared behind it, and two runs at once still get two contexts.
      await expect.poll(() => browser?.contexts().length, { timeout: 10_000 }).toBe(2);
      const [a, b] = await Promise.all([local.newPage(), local.newPage()]);
      expect(new Set([first.context, a.context, b.context]).size).toBe(3);
      await Promise.all([first.context.close(), a.context.close(), b.context.close()]);
    });
    expect(closed.launches).toBe(1);
  });

  it("discards a spare whose browser died and opens a fresh page on the new one", { timeout: 30_000 }, async () => {
    await withPool(async (local) => {
      await local.warm();
      const first = await local.newPage();
      await crashBrowser(first.context);
      await expect.poll(() => first.context.browser()?.isConnected(), { timeout: 10_000 }).toBe(false);
      const next = await local.newPage();
      expect(next.context.browser()?.isConnected()).toBe(true);
      await next.page.goto(`${site.url}/login`);
      expect(next.page.url()).toContain("/login");
    });
  });

  it("keeps no spare when prepareNextPage is false", { timeout: 30_000 }, async () => {
    await withPool(
      async (local) => {
        await local.warm();
        const opened = await local.newPage();
        expect(opened.context.browser()?.contexts()).toEqual([opened.context]);
      },
      { prepareNextPage: false },
    );
  });
});
