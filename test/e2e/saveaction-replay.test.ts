/**
 * A SaveAction user's journey: a recording exported by the recorder (written for the local
 * fixture site, in the recorder's own format) is uploaded unchanged and replays through the
 * service; broken variants fail at the right action with the right message; `pnpm replay`
 * does the same locally.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { ROOT } from "@conveyor/testing/processes";
import { createStack, type Stack } from "@conveyor/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const TEMPLATE = readFileSync(join(ROOT, "test/fixtures/saveaction-site/site-tour.json"), "utf8");
const TERMINAL = ["passed", "failed", "errored", "cancelled"];

let stack: Stack;
let site: FixtureSite;

/** The tour exported for this test's fixture site, optionally edited. */
function tour(edit: (recording: any) => void = () => {}) {
  const recording = JSON.parse(TEMPLATE.replaceAll("{{SITE}}", site.url));
  edit(recording);
  return recording;
}

function action(recording: any, id: string) {
  const found = recording.actions.find((a: { id: string }) => a.id === id);
  if (!found) throw new Error(`no action ${id}`);
  return found;
}

beforeAll(async () => {
  site = await startFixtureSite();
  stack = await createStack("saveaction");
  // Failing variants wait out one action timeout: short, but not so short that a passing action
  // on a machine busy with other suites' browsers runs out of it.
  await Promise.all([
    stack.startApi({ ACTION_TIMEOUT_MS: "6000" }),
    stack.startWorker("w-saveaction", { WORKER_CONCURRENCY: "2" }),
  ]);
  await stack.createProject("saveaction");
});

afterAll(async () => {
  await stack?.stop();
  await site?.close();
});

/** What a reader of a failed assertion needs: the run's error and every action that did not pass. */
function why(result: any): string {
  const notPassed = (result.actions ?? []).filter((a: { status: string }) => a.status !== "passed");
  return JSON.stringify({ status: result.status, error: result.error, actions: notPassed }, null, 1);
}

async function replayThroughService(recording: unknown) {
  const submitted = await stack.request("POST", "/api/runs", { recording, variables: { PASSWORD: "secret" } });
  expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
  return stack.waitForRun(submitted.body.id, TERMINAL, 90_000);
}

describe("a SaveAction export, uploaded unchanged", () => {
  it("replays every action and passes", async () => {
    const result = await replayThroughService(tour());
    expect(result.status, why(result)).toBe("passed");
    expect(result.counts.failed).toBe(0);
    expect(result.counts.passed + result.counts.skipped).toBe(result.counts.total);
    expect(result.actions).toHaveLength(result.counts.total);
    // The recorder's ids survive, and the keypress was executed, not skipped.
    const keypress = result.actions.find((a: { actionId: string }) => a.actionId === "act_027");
    expect(keypress).toMatchObject({ type: "keypress", status: "passed" });
    // The data-testid candidate (the recorder's best) is what found the login button.
    expect(result.actions.find((a: { actionId: string }) => a.actionId === "act_003").selectorUsed).toMatch(
      /testid=login-button/,
    );
  });

  const broken: [string, (r: any) => void, string, RegExp][] = [
    [
      "a missing element",
      (r) => {
        action(r, "act_020").selector = { id: "no-such-button", css: "#no-such-button", priority: ["id", "css"] };
      },
      "act_020",
      /No element matched.*no-such-button/s,
    ],
    [
      "a wrong text",
      (r) => {
        action(r, "act_006").expectedValue = "Welcome, bob";
      },
      "act_006",
      /Welcome, bob.*Welcome, alice/s,
    ],
    [
      "a wrong URL",
      (r) => {
        action(r, "act_005").expectedUrl = "/dashboard";
      },
      "act_005",
      /\/dashboard/,
    ],
    [
      "a keypress that matters (Enter submits), left out",
      (r) => {
        r.actions = r.actions.filter((a: { id: string }) => a.id !== "act_027");
      },
      "act_028",
      /submitted: hello/,
    ],
    [
      "a data-testid-only element whose testid changed",
      (r) => {
        const click = action(r, "act_003");
        click.selector = { css: "#not-the-button", priority: ["css"] };
        click.selectors = [{ strategy: "data-testid", value: "signin-button", priority: 1, confidence: 95 }];
      },
      "act_003",
      /signin-button/,
    ],
  ];

  it.each(broken)("fails at the right action with %s", async (_name, edit, failingId, message) => {
    const result = await replayThroughService(tour(edit));
    expect(result.status, why(result)).toBe("failed");
    const failing = result.actions.find((a: { status: string }) => a.status === "failed");
    expect(failing.actionId).toBe(failingId);
    expect(failing.error.message).toMatch(message);
    expect(result.error.actionIndex).toBe(failing.index);
    expect(failing.screenshotUrl).toMatch(/\.png$/);
    // Nothing after the failing action ran, and the counts add up.
    expect(result.actions.at(-1).actionId).toBe(failingId);
    expect(result.counts.passed + result.counts.failed + result.counts.skipped).toBe(result.actions.length);
  });

  it("a testid-only element passes when only its data-testid still matches", async () => {
    const result = await replayThroughService(
      tour((r) => {
        const click = action(r, "act_003");
        click.selector = { css: "#not-the-button", priority: ["css"] };
        click.selectors = [{ strategy: "data-testid", value: "login-button", priority: 1, confidence: 95 }];
      }),
    );
    expect(result.status, why(result)).toBe("passed");
  });
});

describe("pnpm replay", () => {
  const dir = mkdtempSync(join(tmpdir(), "conveyor-replay-"));

  async function replayLocally(recording: unknown): Promise<{ code: number; stdout: string; stderr: string }> {
    const file = join(dir, `recording-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify(recording));
    try {
      const { stdout, stderr } = await run(
        process.execPath,
        [
          "--import",
          "tsx",
          "packages/cli/src/bin/conveyor.ts",
          "replay",
          file,
          "--var",
          "PASSWORD=secret",
          "--artifacts",
          dir,
          "--timeout",
          "3000",
        ],
        { cwd: ROOT, timeout: 90_000 },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  // Two whole replays, each launching its own Chromium: a minute is not enough on a loaded machine.
  it("prints each action's result and exits 0 on a pass, 1 on a failure", { timeout: 200_000 }, async () => {
    const passing = await replayLocally(tour());
    expect(passing.code, passing.stderr).toBe(0);
    expect(passing.stdout).toMatch(/Replaying "Fixture site tour" \(\d+ actions, saveaction format\)/);
    expect(passing.stdout).toMatch(/✓ +\d+ keypress/);
    expect(passing.stdout).toMatch(/Result: passed/);

    const failing = await replayLocally(
      tour((r) => {
        action(r, "act_006").expectedValue = "Welcome, bob";
      }),
    );
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/✗ +\d+ assert .*\n.*Welcome, bob/);
    expect(failing.stdout).toMatch(/Result: failed/);
  });
});
