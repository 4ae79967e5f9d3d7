// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recordings spell variables as ${NAME}
/**
 * Round trip: recordings covering every action type, exported as Playwright tests, run green with
 * `playwright test` (a real child process, @playwright/test's own CLI) against the fixture site,
 * in Chromium; a broken variant fails naming the expectation; a sensitive value is never in the
 * file, which reads it from the environment (without it, the test stops and names the variable).
 * The exported files also typecheck. `pnpm replay --export` (a real process) prints the same
 * files for a recording on disk, SaveAction exports included, without launching a browser; the
 * SaveAction tour it exports passes in Playwright too.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { exportRecording, importRecording, type RecordingInput, recordingSchema } from "@conveyor/core";
import { resolveChromium } from "@conveyor/runner";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { ROOT } from "@conveyor/testing/processes";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const PLAYWRIGHT_CLI = join(ROOT, "node_modules/@playwright/test/cli.js");
const TSC = join(ROOT, "node_modules/typescript/bin/tsc");
const SECRET_PASSWORD = "secret";
const SECRET_LITERAL = "s3cr3t-literal";

let site: FixtureSite;
let dir: string;
let chromiumPath: string;

beforeAll(async () => {
  site = await startFixtureSite();
  chromiumPath = resolveChromium({ chromiumPath: process.env.CHROMIUM_PATH }).path;
  dir = mkdtempSync(join(tmpdir(), "conveyor-export-"));
  // The exported files import "@playwright/test": resolved through the repository's own.
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  writeFileSync(
    join(dir, "playwright.config.ts"),
    `import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "specs",
  outputDir: "results",
  reporter: "list",
  workers: 1,
  retries: 0,
  use: { headless: true, launchOptions: { executablePath: process.env.CHROMIUM_PATH } },
});
`,
  );
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        lib: ["ES2023", "DOM"],
        types: ["node"],
        strict: true,
        noUncheckedIndexedAccess: true,
        noEmit: true,
        skipLibCheck: true,
      },
      include: ["specs/**/*.ts"],
    }),
  );
});

afterAll(async () => {
  await site?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Logs in with variables, a sensitive variable and a sensitive literal; keys; title and URL checks. */
function login(edit: (recording: RecordingInput) => void = () => {}) {
  const recording: RecordingInput = {
    name: "Log in and use keys",
    startUrl: "${BASE_URL}/login",
    viewport: { width: 1024, height: 700 },
    variables: [
      { name: "BASE_URL", default: site.url },
      { name: "USERNAME", default: "alice" },
      // A default the export must not write: the test reads it from the environment.
      { name: "PASSWORD", sensitive: true, default: SECRET_PASSWORD },
    ],
    actions: [
      {
        type: "input",
        selector: [
          { strategy: "testid", value: "username", confidence: 95 },
          { strategy: "id", value: "username" },
        ],
        value: "${USERNAME}",
      },
      { type: "input", selector: [{ strategy: "aria", value: "Password" }], value: "${PASSWORD}", sensitive: true },
      { type: "click", selector: [{ strategy: "aria", value: 'Log in[role="button"]' }] },
      { type: "assert", check: "urlMatch", expected: "${BASE_URL}/welcome?user=alice" },
      {
        type: "assert",
        check: "elementText",
        selector: [{ strategy: "xpath", value: '//h1[@id="greeting"]' }],
        expected: "Welcome, ${USERNAME}",
      },
      { type: "assert", check: "pageLoad" },
      { type: "navigate", url: "/title" },
      { type: "assert", check: "pageTitle", expected: "Fixture Title" },
      { type: "assert", check: "containsText", expected: "Title page" },
      { type: "navigate", url: "${BASE_URL}/keys" },
      { type: "input", id: "code", selector: "#field", value: SECRET_LITERAL, sensitive: true },
      { type: "keypress", key: "Enter", selector: "#field" },
      { type: "assert", check: "elementText", selector: "#result", expected: `submitted: ${SECRET_LITERAL}` },
      { type: "keypress", key: "k", modifiers: ["Control"] },
      { type: "assert", check: "elementText", selector: "#shortcut", expected: "shortcut" },
    ],
  };
  edit(recording);
  return recordingSchema.parse(recording);
}

/** Selects, checkboxes, hover, clicks of every kind, scrolling, modals, lists, waits, network, viewport, submit, dialogs. */
function widgets() {
  return recordingSchema.parse({
    name: "Widgets",
    startUrl: `${site.url}/select`,
    actions: [
      { type: "select", selector: [{ strategy: "name", value: "color" }], value: "green" },
      { type: "assert", check: "elementText", selector: "#chosen", expected: "Chosen: green" },
      { type: "select", selector: "#color", label: "Blue" },
      { type: "assert", check: "elementText", selector: "#chosen", expected: "Chosen: blue" },
      { type: "select", selector: "#color", index: 1 },
      { type: "assert", check: "elementText", selector: "#chosen", expected: "Chosen: red" },

      { type: "navigate", url: `${site.url}/checkboxes` },
      { type: "check", selector: "#terms" },
      { type: "check", selector: [{ strategy: "css", value: "#plan-pro" }] },
      { type: "assert", check: "elementText", selector: "#summary", expected: "terms=yes plan=pro" },
      { type: "check", selector: "#terms", checked: false },
      { type: "assert", check: "containsText", selector: "#summary", expected: "terms=no" },

      { type: "navigate", url: `${site.url}/hover` },
      { type: "hover", selector: "#menu" },
      { type: "assert", check: "elementText", selector: "#hover-state", expected: "entered" },
      {
        type: "click",
        selector: [{ strategy: "css", value: "#submenu-link", within: [{ strategy: "id", value: "menu" }] }],
      },
      { type: "assert", check: "urlContains", expected: "user=hover" },
      { type: "assert", check: "elementVisible", selector: [{ strategy: "role", value: "heading" }] },

      { type: "navigate", url: `${site.url}/double` },
      { type: "click", selector: "#target", clickCount: 2 },
      { type: "assert", check: "elementText", selector: "#dbl", expected: "double" },
      { type: "click", selector: "#target", button: "right" },
      { type: "assert", check: "elementText", selector: "#ctx", expected: "context" },
      { type: "click", selector: "#target", modifiers: ["Shift"], position: { x: 10, y: 20 }, holdMs: 50 },
      { type: "assert", check: "elementText", selector: "#mod", expected: "shift" },
      { type: "assert", check: "elementText", selector: "#pos", expected: "10,20" },

      { type: "navigate", url: `${site.url}/scroll` },
      { type: "scroll", y: 1000 },
      { type: "assert", check: "elementText", selector: "#scrollpos", expected: "0,1000" },
      { type: "scroll", selector: "#box", x: 0, y: 300 },
      { type: "assert", check: "elementText", selector: "#boxpos", expected: "0,300" },

      { type: "navigate", url: `${site.url}/modal` },
      { type: "click", selector: "#open-modal" },
      { type: "modal", state: "open" },
      { type: "click", selector: "#close-modal" },
      { type: "modal", state: "closed" },
      { type: "modal", state: "closed", selector: "#modal" },

      { type: "navigate", url: `${site.url}/lists` },
      { type: "click", selector: [{ strategy: "testid", value: "dup" }] },
      { type: "waitForElement", selector: ".item", operator: "==", count: 3 },
      {
        type: "waitForElement",
        selector: [{ strategy: "testid", value: "dup" }],
        operator: ">=",
        count: 2,
        visible: true,
        attributes: { class: "item" },
      },
      { type: "waitForElement", selector: "#nothing-here", operator: "<=", count: 0 },
      { type: "click", selector: [{ strategy: "text", value: "Only testid" }] },
      { type: "assert", check: "elementText", selector: "#only-result", expected: "clicked" },
      { type: "input", selector: [{ strategy: "placeholder", value: "Your email" }], value: "a@b.test" },
      {
        type: "assert",
        check: "elementHasValue",
        selector: [{ strategy: "placeholder", value: "Your email" }],
        expected: "a@b.test",
      },
      { type: "assert", check: "elementVisible", selector: [{ strategy: "src", value: "pixel.png" }] },
      { type: "assert", check: "elementVisible", selector: [{ strategy: "text-contains", value: "longer sentence" }] },
      { type: "select", selector: "#late-select", value: "b" },
      { type: "assert", check: "elementHasValue", selector: "#late-select", expected: "b" },
      { type: "waitForExpression", expression: "document.readyState === 'complete'" },
      { type: "setViewport", width: 800, height: 600 },
      { type: "waitForExpression", expression: "window.innerWidth === 800" },
      { type: "click", selector: "#does-not-exist", optional: true, timeoutMs: 500 },
      { type: "emulateNetwork", latencyMs: 20 },
      { type: "click", selector: [{ strategy: "href", value: "/welcome?user=link" }] },
      { type: "assert", check: "urlContains", expected: "user=link" },
      { type: "emulateNetwork" },

      { type: "navigate", url: `${site.url}/form-submit` },
      { type: "input", selector: "#q", value: "hello", mode: "type", typingDelayMs: 5 },
      { type: "submit", selector: "#form" },
      { type: "assert", check: "urlContains", expected: "/submitted?q=hello" },
      { type: "assert", check: "elementText", selector: "#submitted", expected: "submitted: hello" },

      { type: "navigate", url: `${site.url}/dialogs` },
      { type: "click", selector: "#confirm" },
      { type: "assert", check: "elementText", selector: "#confirm-result", expected: "true" },
      { type: "click", selector: "#prompt" },
      { type: "assert", check: "elementText", selector: "#prompt-result", expected: "fixture" },
    ],
  });
}

/** Nested iframes by CSS, a frame by index path, and a popup found by its URL. */
function framesAndPages() {
  return recordingSchema.parse({
    name: "Frames and pages",
    startUrl: `${site.url}/iframe-nested`,
    actions: [
      { type: "input", selector: "#inner-input", frame: "#outer >>> #frame", value: "nested" },
      { type: "click", selector: "#inner-button", frame: "#outer >>> #frame" },
      {
        type: "assert",
        check: "elementText",
        selector: "#inner-result",
        frame: "#outer >>> #frame",
        expected: "inner: nested",
      },
      { type: "navigate", url: `${site.url}/iframe` },
      { type: "input", selector: "#inner-input", frame: [0], value: "indexed" },
      { type: "click", selector: "#inner-button", frame: [0] },
      { type: "assert", check: "elementText", selector: "#inner-result", frame: [0], expected: "inner: indexed" },
      {
        type: "waitForExpression",
        frame: "#frame",
        expression: "document.getElementById('inner-result').textContent === 'inner: indexed'",
      },
      { type: "assert", check: "pageLoad", frame: "#frame" },
      { type: "assert", check: "containsText", frame: "#frame", expected: "inner: indexed" },
      // The popup opens `<target>/popup`: here /lists?/popup, a URL the opener's does not start with.
      { type: "navigate", url: `${site.url}/popup?target=${encodeURIComponent(`${site.url}/lists?`)}` },
      { type: "click", selector: "#open" },
      { type: "click", selector: [{ strategy: "text", value: "Only testid" }], target: `${site.url}/lists` },
      {
        type: "assert",
        check: "elementText",
        selector: "#only-result",
        expected: "clicked",
        target: `${site.url}/lists`,
      },
      { type: "assert", check: "urlMatch", expected: `${site.url}/lists?/popup`, target: `${site.url}/lists` },
      { type: "close", target: `${site.url}/lists` },
      { type: "assert", check: "urlContains", expected: "/popup?target=" },
    ],
  });
}

interface PlaywrightRun {
  code: number;
  output: string;
}

/** Writes the exported files and runs `playwright test` on them, as a user would. */
async function playwrightTest(specs: Record<string, string>, env: Record<string, string> = {}): Promise<PlaywrightRun> {
  const specDir = join(dir, "specs");
  rmSync(specDir, { recursive: true, force: true });
  rmSync(join(dir, "results"), { recursive: true, force: true });
  mkdirSync(specDir);
  for (const [name, content] of Object.entries(specs)) writeFileSync(join(specDir, name), content);
  // Only what each run sets: vitest itself sets BASE_URL (Vite's), which the login recording reads.
  const { PASSWORD: _password, BASE_URL: _base, USERNAME: _username, ...inherited } = process.env;
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      [PLAYWRIGHT_CLI, "test", "--config", join(dir, "playwright.config.ts")],
      {
        cwd: dir,
        timeout: 330_000,
        env: { ...inherited, CHROMIUM_PATH: chromiumPath, CI: "1", FORCE_COLOR: "0", ...env },
      },
    );
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: `${failed.stdout}${failed.stderr}` };
  }
}

describe("a recording exported as a Playwright test", () => {
  const secrets = { PASSWORD: SECRET_PASSWORD, SENSITIVE_CODE: SECRET_LITERAL };

  it("never holds a sensitive value, and says which environment variables it reads", () => {
    const { content, variables } = exportRecording(login(), "playwright");
    expect(content).not.toContain(SECRET_PASSWORD);
    expect(content).not.toContain(SECRET_LITERAL);
    expect(content).toContain('fill(env("PASSWORD"))');
    expect(content).toContain('fill(env("SENSITIVE_CODE"))');
    expect(content).toContain("//   PASSWORD (sensitive: required, its value is never written in this file)");
    expect(variables.sort()).toEqual(["BASE_URL", "PASSWORD", "SENSITIVE_CODE", "USERNAME"]);
  });

  it("runs green with playwright test against the fixture site, and typechecks", { timeout: 400_000 }, async () => {
    const specs = {
      "login.spec.ts": exportRecording(login(), "playwright").content,
      "widgets.spec.ts": exportRecording(widgets(), "playwright").content,
      "frames.spec.ts": exportRecording(framesAndPages(), "playwright").content,
    };
    const result = await playwrightTest(specs, secrets);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/3 passed/);
    // The optional click that found nothing was tolerated.
    expect(result.output).not.toMatch(/failed/);

    const tsc = await run(process.execPath, [TSC, "-p", dir], { cwd: dir, timeout: 120_000 }).then(
      (out) => ({ code: 0, output: out.stdout }),
      (error: { code: number; stdout: string }) => ({ code: error.code, output: error.stdout }),
    );
    expect(tsc.code, tsc.output).toBe(0);
  });

  it("fails when the page differs from the recording, naming the expectation", { timeout: 400_000 }, async () => {
    const broken = login((recording) => {
      const greeting = recording.actions[4];
      if (greeting?.type !== "assert") throw new Error("action 5 is the greeting check");
      greeting.expected = "Welcome, bob";
      greeting.timeoutMs = 2000;
    });
    const result = await playwrightTest({ "broken.spec.ts": exportRecording(broken, "playwright").content }, secrets);
    expect(result.code, result.output).not.toBe(0);
    expect(result.output).toMatch(/1 failed/);
    expect(result.output).toContain("toHaveText");
    expect(result.output).toContain("Welcome, bob");
    expect(result.output).toContain("Welcome, alice");
  });

  it("stops, naming the variable, when a sensitive value is not in the environment", { timeout: 400_000 }, async () => {
    const result = await playwrightTest(
      { "login.spec.ts": exportRecording(login(), "playwright").content },
      { SENSITIVE_CODE: SECRET_LITERAL },
    );
    expect(result.code, result.output).not.toBe(0);
    expect(result.output).toContain("Set the environment variable PASSWORD");
  });
});

describe("pnpm replay --export", () => {
  /** The SaveAction recorder's tour of the fixture site, as the recorder exported it. */
  function tourFile(): string {
    const file = join(dir, "site-tour.json");
    const template = readFileSync(join(ROOT, "test/fixtures/saveaction-site/site-tour.json"), "utf8");
    writeFileSync(file, template.replaceAll("{{SITE}}", site.url));
    return file;
  }

  async function replayExport(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await run(
        process.execPath,
        ["packages/cli/src/bin/conveyor.ts", "replay", ...args],
        // A Chromium that does not exist: an export that tried to launch one would fail.
        { cwd: ROOT, timeout: 60_000, env: { ...process.env, CHROMIUM_PATH: "/nonexistent/chromium" } },
      );
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
    }
  }

  // Four processes: on a loaded machine each takes seconds to start.
  it("prints each format to stdout, warnings to stderr, without a browser", { timeout: 150_000 }, async () => {
    const file = tourFile();
    const { recording } = importRecording(JSON.parse(readFileSync(file, "utf8")));

    const playwright = await replayExport(["--export", "playwright", file, "--timeout", "9000"]);
    expect(playwright.code, playwright.stderr).toBe(0);
    expect(playwright.stdout).toBe(exportRecording(recording, "playwright", { actionTimeoutMs: 9000 }).content);
    expect(playwright.stdout).toContain('test("Fixture site tour", async ({ page, context }) => {');

    const recorder = await replayExport(["--export", "chrome-recorder", file]);
    expect(recorder.code, recorder.stderr).toBe(0);
    expect(JSON.parse(recorder.stdout).title).toBe("Fixture site tour");
    // The tour's password variable has no value to write: named on stderr.
    expect(recorder.stderr).toMatch(/warning: .*\$\{PASSWORD\} is left as written/);

    const conveyor = await replayExport(["--export", "conveyor", file]);
    expect(conveyor.code, conveyor.stderr).toBe(0);
    expect(JSON.parse(conveyor.stdout).actions).toHaveLength(recording.actions.length);

    const unknown = await replayExport(["--export", "cypress", file]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('--export expects one of playwright, chrome-recorder, conveyor, got "cypress"');
    expect(unknown.stdout).toBe("");
  });

  it("exports the SaveAction tour as a Playwright test that passes", { timeout: 400_000 }, async () => {
    const exported = await replayExport(["--export", "playwright", tourFile()]);
    expect(exported.code, exported.stderr).toBe(0);
    const result = await playwrightTest({ "tour.spec.ts": exported.stdout }, { PASSWORD: SECRET_PASSWORD });
    expect(result.code, result.output).toBe(0);
    expect(result.output).toMatch(/1 passed/);
  });
});
