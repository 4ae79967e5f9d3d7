// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recordings spell variables as ${NAME}
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { LocalArtifactStore } from "@conveyor/artifacts";
import { RunError } from "@conveyor/core";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ActionResult, type ExecuteOptions, executeRecording } from "../src/execute.ts";
import { BrowserPool } from "../src/pool.ts";
import { PNG_SIGNATURE, recording, testChromiumPath } from "./helpers.ts";

let site: FixtureSite;
let pool: BrowserPool;
let artifactsDir: string;
let artifacts: LocalArtifactStore;

beforeAll(async () => {
  site = await startFixtureSite();
  pool = new BrowserPool({ executablePath: testChromiumPath() });
  artifactsDir = await mkdtemp(path.join(tmpdir(), "conveyor-runner-"));
  artifacts = new LocalArtifactStore(artifactsDir);
}, 30_000);

afterAll(async () => {
  await pool?.close();
  await site?.close();
  if (artifactsDir) await rm(artifactsDir, { recursive: true, force: true });
});

function options(overrides: Partial<ExecuteOptions> & Pick<ExecuteOptions, "recording">): ExecuteOptions {
  return { actionTimeoutMs: 5_000, artifacts, artifactPrefix: "run_test/1", ...overrides };
}

describe("executeRecording", () => {
  it("passes a login recording and records which selector matched", { timeout: 20_000 }, async () => {
    const reported: ActionResult[] = [];
    const result = await executeRecording(
      pool,
      options({
        recording: recording({
          name: "login",
          startUrl: `${site.url}/login`,
          actions: [
            {
              type: "input",
              selector: [
                { strategy: "css", value: "#no-such-field" },
                { strategy: "testid", value: "username" },
              ],
              value: "${USER}",
            },
            {
              type: "input",
              selector: [{ strategy: "name", value: "password" }],
              value: "${PASSWORD}",
              sensitive: true,
            },
            { id: "submit", type: "click", selector: [{ strategy: "testid", value: "login-button" }] },
            { type: "assert", check: "urlContains", expected: "/welcome" },
            { type: "assert", check: "elementText", selector: "#greeting", expected: "Welcome, ${USER}" },
          ],
        }),
        variables: { USER: "alice", PASSWORD: "secret" },
        onActionResult: (actionResult) => {
          reported.push(actionResult);
        },
      }),
    );

    expect(result.outcome).toBe("passed");
    expect(result.error).toBeUndefined();
    expect(result.counts).toEqual({ total: 5, passed: 5, failed: 0, skipped: 0 });
    expect(result.actions.map((a) => a.status)).toEqual(["passed", "passed", "passed", "passed", "passed"]);
    expect(reported).toEqual(result.actions);
    expect(result.actions[0]).toMatchObject({
      index: 0,
      actionId: "a1",
      type: "input",
      selectorUsed: "testid=username",
      selectorsTried: ["css=#no-such-field", "testid=username"],
    });
    expect(result.actions[2]).toMatchObject({ actionId: "submit", selectorUsed: "testid=login-button" });
    expect(result.actions[4]?.pageUrl).toBe(`${site.url}/welcome?user=alice`);
    for (const action of result.actions) {
      expect(action.durationMs).toBeGreaterThanOrEqual(0);
      expect(action.startedAt).toBeInstanceOf(Date);
    }
  });

  it("fails at the assertion with expected vs actual, a screenshot, and stops there", { timeout: 20_000 }, async () => {
    const result = await executeRecording(
      pool,
      options({
        recording: recording({
          name: "wrong password",
          startUrl: `${site.url}/login`,
          actions: [
            { type: "input", selector: "#username", value: "alice" },
            { type: "input", selector: "#password", value: "wrong" },
            { type: "click", selector: [{ strategy: "testid", value: "login-button" }] },
            { type: "assert", check: "urlContains", expected: "/login" },
            {
              type: "assert",
              check: "elementText",
              selector: "#greeting, #error",
              expected: "Welcome, alice",
              timeoutMs: 1_000,
            },
            { type: "click", selector: "#never-reached" },
          ],
        }),
      }),
    );

    expect(result.outcome).toBe("failed");
    expect(result.counts).toEqual({ total: 6, passed: 4, failed: 1, skipped: 0 });
    expect(result.actions).toHaveLength(5);
    expect(result.error).toEqual({
      kind: "test_failure",
      actionIndex: 4,
      message: 'Expected text of "#greeting, #error" to be "Welcome, alice" but was "Invalid password"',
    });
    const failed = result.actions[4];
    expect(failed?.status).toBe("failed");
    expect(failed?.error?.message).toBe(result.error?.message);
    expect(failed?.screenshotKey).toBe("run_test/1/action-5-failure.png");
    const stored = await artifacts.get("run_test/1/action-5-failure.png");
    expect(stored?.contentType).toBe("image/png");
    expect(stored?.body.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  });

  it("reports a missing element with every candidate tried", { timeout: 20_000 }, async () => {
    const result = await executeRecording(
      pool,
      options({
        recording: recording({
          name: "missing",
          startUrl: `${site.url}/login`,
          actions: [
            {
              type: "click",
              timeoutMs: 300,
              selector: [
                { strategy: "testid", value: "nope" },
                { strategy: "text", value: "Nope" },
              ],
            },
          ],
        }),
      }),
    );
    expect(result.outcome).toBe("failed");
    expect(result.error?.message).toBe(
      "No element matched selector(s): testid=nope | text=Nope within 300 ms; tried: testid=nope (0 matches), text=Nope (0 matches)",
    );
    expect(result.actions[0]?.selectorsTried).toEqual(["testid=nope", "text=Nope"]);
    expect(result.actions[0]?.selectorUsed).toBeUndefined();
  });

  it("submits the form with Enter", { timeout: 20_000 }, async () => {
    const result = await executeRecording(
      pool,
      options({
        recording: recording({
          name: "enter",
          startUrl: `${site.url}/login`,
          actions: [
            { type: "input", selector: "#username", value: "alice" },
            { type: "input", selector: "#password", value: "secret" },
            { type: "keypress", selector: "#password", key: "Enter" },
            {
              type: "assert",
              check: "elementText",
              selector: [{ strategy: "id", value: "greeting" }],
              expected: "Welcome, alice",
            },
            { type: "assert", check: "urlMatch", expected: `${site.url}/welcome?user=alice` },
          ],
        }),
      }),
    );
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });

  it("selects options by value and by label", { timeout: 20_000 }, async () => {
    const result = await executeRecording(
      pool,
      options({
        recording: recording({
          name: "select",
          actions: [
            { type: "navigate", url: `${site.url}/select` },
            { type: "select", selector: "#color", value: "green" },
            { type: "assert", check: "elementText", selector: "#chosen", expected: "Chosen: green" },
            { type: "select", selector: [{ strategy: "name", value: "color" }], value: "Blue" },
            { type: "assert", check: "containsText", expected: "Chosen: blue" },
          ],
        }),
      }),
    );
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });

  it("waits for content that appears late", { timeout: 20_000 }, async () => {
    const result = await executeRecording(
      pool,
      options({
        recording: recording({
          name: "delayed",
          startUrl: `${site.url}/delayed?ms=700`,
          actions: [
            { type: "click", selector: [{ strategy: "text", value: "Loaded late" }] },
            { type: "assert", check: "elementVisible", selector: "#late" },
          ],
        }),
      }),
    );
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
    expect(result.actions[0]?.durationMs).toBeGreaterThanOrEqual(400);
  });

  it("escapes quotes and backslashes in selector values", { timeout: 20_000 }, async () => {
    const result = await executeRecording(
      pool,
      options({
        recording: recording({
          name: "tricky",
          startUrl: `${site.url}/tricky`,
          actions: [
            {
              type: "assert",
              check: "elementText",
              selector: [{ strategy: "testid", value: 'say "hi" \\ now' }],
              expected: "Tricky testid",
            },
            {
              type: "assert",
              check: "elementText",
              selector: [{ strategy: "id", value: "a:b.c" }],
              expected: "Tricky id",
            },
          ],
        }),
      }),
    );
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
    expect(result.actions[0]?.selectorUsed).toBe('testid=say "hi" \\ now');
  });

  it("skips a failed optional action and goes on", { timeout: 20_000 }, async () => {
    const result = await executeRecording(
      pool,
      options({
        recording: recording({
          name: "optional",
          startUrl: `${site.url}/login`,
          actions: [
            { type: "click", selector: "#cookie-banner-close", optional: true, timeoutMs: 300 },
            { type: "assert", check: "elementVisible", selector: [{ strategy: "testid", value: "login-button" }] },
          ],
        }),
      }),
    );
    expect(result.outcome).toBe("passed");
    expect(result.counts).toEqual({ total: 2, passed: 1, failed: 0, skipped: 1 });
    expect(result.actions[0]).toMatchObject({ status: "skipped", error: { kind: "test_failure" } });
    expect(result.actions[0]?.screenshotKey).toBeUndefined();
  });

  it("errors on a missing variable before opening a browser", async () => {
    // A pool that cannot launch anything: reaching the browser would throw, not return.
    const unusablePool = new BrowserPool({ executablePath: "/nonexistent/chromium" });
    const result = await executeRecording(
      unusablePool,
      options({
        recording: recording({
          name: "vars",
          startUrl: "${BASE_URL}/login",
          actions: [{ type: "input", selector: "#password", value: "${PASSWORD}" }],
        }),
        variables: { UNUSED: "x" },
      }),
    );
    expect(result.outcome).toBe("errored");
    expect(result.error?.kind).toBe("permanent");
    expect(result.error?.message).toContain("BASE_URL");
    expect(result.error?.message).toContain("PASSWORD");
    expect(result.actions).toEqual([]);
    expect(unusablePool.launches).toBe(0);
    await unusablePool.close();
  });

  it("never lets a sensitive value into results or messages", { timeout: 20_000 }, async () => {
    const secret = "hunter2-Zq9";
    const reported: ActionResult[] = [];
    const result = await executeRecording(
      pool,
      options({
        recording: recording({
          name: "sensitive",
          startUrl: `${site.url}/login`,
          actions: [
            { type: "input", selector: "#password", value: "${PASSWORD}", sensitive: true },
            // A careless recording that echoes the secret into an assertion.
            { type: "assert", check: "containsText", expected: "${PASSWORD}", timeoutMs: 300 },
          ],
        }),
        variables: { PASSWORD: secret },
        onActionResult: (actionResult) => {
          reported.push(actionResult);
        },
      }),
    );
    expect(result.outcome).toBe("failed");
    expect(result.error?.message).toContain("[redacted]");
    expect(JSON.stringify(result)).not.toContain(secret);
    expect(JSON.stringify(reported)).not.toContain(secret);
  });

  // How soon it stops is a benchmark's figure (`pnpm bench --only cancel`), not a test's bound.
  it("stops inside the current action when aborted, long before that action would have ended", {
    timeout: 60_000,
  }, async () => {
    const controller = new AbortController();
    const reason = new Error("operator cancelled");
    const CONTENT_MS = 30_000;
    // Abort once the second action is under way (not at a fixed time: on a busy machine opening
    // the page alone can take longer than that).
    const result = await executeRecording(
      pool,
      options({
        recording: recording({
          name: "abort",
          actions: [
            { type: "navigate", url: `${site.url}/slow?ms=${CONTENT_MS}` },
            { type: "assert", check: "elementVisible", selector: "#done", timeoutMs: 60_000 },
          ],
        }),
        signal: controller.signal,
        onActionResult: (actionResult) => {
          if (actionResult.index !== 0) return;
          setTimeout(() => controller.abort(reason), 200);
        },
      }),
    );
    expect(result.outcome).toBe("aborted");
    expect(result.abortReason).toBe(reason);
    expect(result.error).toMatchObject({ kind: "cancelled", actionIndex: 1 });
    // The interrupted action is not reported as passed (nor at all): only the navigation before it.
    expect(result.actions.map((a) => a.status)).toEqual(["passed"]);
    // Judged by the run's own clock: the awaited content appears CONTENT_MS after the page opened,
    // inside the run, so an action left to run its course could not end the run sooner than that.
    expect(result.durationMs).toBeLessThan(CONTENT_MS);
  });

  it("returns aborted at once for an already aborted signal", async () => {
    const result = await executeRecording(
      pool,
      options({
        recording: recording({ name: "pre-aborted", actions: [{ type: "navigate", url: `${site.url}/login` }] }),
        signal: AbortSignal.abort("shutdown"),
      }),
    );
    expect(result).toMatchObject({ outcome: "aborted", abortReason: "shutdown", actions: [] });
  });

  it("fails a run that exceeds its run timeout, with a screenshot", { timeout: 60_000 }, async () => {
    const result = await executeRecording(
      pool,
      options({
        artifactPrefix: "run_timeout/1",
        // Long enough for the page to open on a loaded machine, so the timeout hits the action.
        runTimeoutMs: 3_000,
        recording: recording({
          name: "run timeout",
          startUrl: `${site.url}/slow?ms=30000`,
          actions: [{ type: "assert", check: "elementVisible", selector: "#done", timeoutMs: 60_000 }],
        }),
      }),
    );
    // Interrupted by the run timeout, long before the action's own 60 s or the content's 30 s
    // (judged by the run's own clock: the content appears 30 s after the page opened, inside the run).
    expect(result.durationMs).toBeLessThan(30_000);
    expect(result.outcome).toBe("failed");
    expect(result.error).toEqual({
      kind: "test_failure",
      message: "Run exceeded its timeout of 3000 ms",
      actionIndex: 0,
    });
    expect(result.actions[0]).toMatchObject({ status: "failed", screenshotKey: "run_timeout/1/action-1-failure.png" });
    expect((await artifacts.get("run_timeout/1/action-1-failure.png"))?.contentType).toBe("image/png");
  });

  it("throws a recoverable RunError when the site refuses connections", { timeout: 20_000 }, async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === "object" && address !== null ? address.port : 1));
      });
    });
    const run = executeRecording(
      pool,
      options({
        recording: recording({
          name: "refused",
          actions: [{ type: "navigate", url: `http://127.0.0.1:${closedPort}/` }],
        }),
      }),
    );
    await expect(run).rejects.toBeInstanceOf(RunError);
    await expect(run).rejects.toMatchObject({
      kind: "recoverable",
      message: expect.stringContaining("ERR_CONNECTION_REFUSED"),
    });
  });
});
