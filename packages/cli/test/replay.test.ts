/**
 * `pnpm replay FILE` with Chrome DevTools Recorder exports: one written for the local fixture site
 * replays in Chromium and passes; the public fixtures are only imported (their warnings printed,
 * waitForExpression refused without --allow-expressions), never run: those calls stop before a
 * browser starts, at a Chromium path that does not exist.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { replay } from "../src/replay.ts";

const FIXTURES = new URL("../../../../shared/fixtures/chrome-recorder/", import.meta.url);
const NO_BROWSER = "/nonexistent/chromium";

let dir: string;
let site: FixtureSite;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "conveyor-cli-replay-"));
  site = await startFixtureSite();
});

afterAll(async () => {
  await site?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Replays `file`; with `browser`, in the Chromium the runner finds, else stopping where it would start one. */
async function run(file: string, args: string[] = [], browser = false) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await replay([file, ...args, "--artifacts", join(dir, "artifacts")], {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
    cwd: dir,
    chromiumPath: browser ? process.env.CHROMIUM_PATH : NO_BROWSER,
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

function write(name: string, body: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(body, null, 2));
  return file;
}

describe("pnpm replay with a Chrome DevTools Recorder export", () => {
  it("replays an export of the fixture site's login, keys, checks and all", async () => {
    const login = `${site.url}/login`;
    const file = write("login.json", {
      title: "Log in as alice",
      timeout: 10_000,
      steps: [
        {
          type: "setViewport",
          width: 1000,
          height: 700,
          deviceScaleFactor: 1,
          isMobile: false,
          hasTouch: false,
          isLandscape: false,
        },
        { type: "navigate", url: login, assertedEvents: [{ type: "navigation", url: login, title: "Log in" }] },
        {
          type: "click",
          target: "main",
          selectors: [["#username"], ['xpath///*[@id="username"]']],
          offsetX: 12,
          offsetY: 6,
        },
        { type: "change", value: "alice", selectors: [["#username"]], target: "main" },
        { type: "keyDown", key: "Tab", target: "main" },
        { type: "keyUp", key: "Tab", target: "main" },
        { type: "change", value: "secret", selectors: ["[data-testid=password]"], target: "main" },
        { type: "startTimespan" },
        {
          type: "keyDown",
          key: "Enter",
          target: "main",
          assertedEvents: [{ type: "navigation", url: `${site.url}/welcome?user=alice`, title: "Welcome" }],
        },
        { type: "keyUp", key: "Enter", target: "main" },
        { type: "hover", selectors: [["text/Welcome, alice"]], target: "main" },
      ],
    });
    const result = await run(file, [], true);
    expect(result.code, `${result.out}\n${result.err}`).toBe(0);
    expect(result.err).toBe(
      "warning: steps[7]: a Lighthouse user-flow step, outside the Recorder's schema (Conveyor makes no Lighthouse reports); skipped",
    );
    expect(result.out).toContain('Replaying "Log in as alice" (11 actions, chrome-recorder format)');
    expect(result.out).toMatch(/Result: passed — 11 passed, 0 failed, 0 skipped of 11/);
  });

  it("prints the import warnings with their steps", async () => {
    const result = await run(
      new URL("push-based__user-flow__packages__cli__tests__data__userflow-replay.json", FIXTURES).pathname,
    );
    expect(result.code).toBe(2);
    expect(result.err.split("\n").slice(0, 3)).toEqual([
      expect.stringMatching(/^warning: steps\[1\]: a Lighthouse user-flow step/),
      expect.stringMatching(/^warning: steps\[5\]: a Lighthouse user-flow step/),
      expect.stringMatching(/^warning: steps\[6\]: a Lighthouse user-flow step/),
    ]);
    // Stopped before any browser: this recording drives a public site.
    expect(result.err).toContain(NO_BROWSER);
  });

  it("refuses waitForExpression unless --allow-expressions", async () => {
    const file = new URL("jecfish__recorder-demo__recordings__hover-add-a-coffee.json", FIXTURES).pathname;
    const refused = await run(file);
    expect(refused.code).toBe(2);
    expect(refused.err).toBe(
      `${file}: steps[6]: waitForExpression runs the recording's own JavaScript in the page; pass --allow-expressions to replay it`,
    );
    const allowed = await run(file, ["--allow-expressions"]);
    expect(allowed.code).toBe(2);
    expect(allowed.err).not.toContain("--allow-expressions");
    expect(allowed.err).toContain(NO_BROWSER);
  });

  it("refuses a customStep, and a file in no known format, saying what it looks like", async () => {
    const custom = await run(
      write("custom.json", {
        title: "x",
        steps: [
          { type: "navigate", url: "https://a.test/" },
          { type: "customStep", name: "audit" },
        ],
      }),
    );
    expect(custom.code).toBe(2);
    expect(custom.err).toMatch(/steps\[1\]: customStep "audit": custom steps run code Conveyor does not have/);
    const unknown = await run(write("suite.side", { id: "s", name: "suite", tests: [{ commands: [] }] }));
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(
      /: This looks like a Selenium IDE project \(\.side\), which Conveyor does not import\. Conveyor accepts/,
    );
  });
});
