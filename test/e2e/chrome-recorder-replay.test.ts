/**
 * A Chrome DevTools Recorder user's journey: hand-written Recorder exports for the fixture site
 * (test/fixtures/chrome-recorder-site/, every step type and selector kind the importer maps) are
 * stored unchanged through the API and replayed by a real worker and Chromium; variants with a
 * wrong expectation fail at the action that the wrong step became; a `waitForExpression` step is
 * refused in a project that does not allow expressions.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { ROOT } from "@conveyor/testing/processes";
import { ADMIN_TOKEN, createStack, type Stack } from "@conveyor/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const FOLDER = join(ROOT, "test/fixtures/chrome-recorder-site");
const PLACEHOLDER = "http://fixture.invalid";
const TERMINAL = ["passed", "failed", "errored", "cancelled"];
const RUN_WAIT_MS = 200_000;
const TEST_TIMEOUT_MS = 240_000;
const MODIFIERS = new Set(["Shift", "Control", "Alt", "Meta"]);
const FILES = readdirSync(FOLDER)
  .filter((name) => name.endsWith(".json"))
  .sort();

interface Step {
  type: string;
  key?: string;
  timeout?: number;
  selectors?: (string | string[])[];
  frame?: number[];
  assertedEvents?: { type: string; url?: string; title?: string }[];
  [field: string]: unknown;
}
interface ChromeRecording {
  title: string;
  steps: Step[];
}

let stack: Stack;
let site: FixtureSite;
/** The project that allows `waitForExpression`, and one that does not. */
let allowingKey: string;
let strictKey: string;

/** A recording of the folder, for this run's fixture site, optionally edited. */
function load(file: string, edit: (recording: ChromeRecording) => void = () => {}): ChromeRecording {
  const text = readFileSync(join(FOLDER, file), "utf8").replaceAll(PLACEHOLDER, site.url);
  const recording = JSON.parse(text) as ChromeRecording;
  edit(recording);
  return recording;
}

/**
 * How many canonical actions each step becomes, by the mapping of docs/recording-import.md: the
 * first `setViewport` (before any replayed step) is the recording's viewport, a non-modifier
 * `keyUp` has nothing left to do after its `keyDown`'s keypress, and an asserted navigation adds a
 * URL check and (for a non-empty title) a title check after its step.
 */
function actionsPerStep(recording: ChromeRecording): number[] {
  let replayedBefore = false;
  return recording.steps.map((step) => {
    if (step.type === "setViewport" && !replayedBefore) return 0;
    if (step.type === "keyUp" && !MODIFIERS.has(step.key ?? "")) return 0;
    if (step.type === "keyDown" && MODIFIERS.has(step.key ?? "")) return 0;
    replayedBefore = true;
    let count = 1;
    for (const event of step.assertedEvents ?? []) {
      if (event.type !== "navigation" || (step.frame?.length ?? 0) > 0) continue;
      if (event.url) count++;
      if (event.title) count++;
    }
    return count;
  });
}

/** The index of the first canonical action of step `index`. */
function firstActionOf(recording: ChromeRecording, index: number): number {
  return actionsPerStep(recording)
    .slice(0, index)
    .reduce((sum, count) => sum + count, 0);
}

function stepIndex(recording: ChromeRecording, predicate: (step: Step) => boolean): number {
  const index = recording.steps.findIndex(predicate);
  if (index < 0) throw new Error(`no such step in ${recording.title}`);
  return index;
}

function stepAt(recording: ChromeRecording, index: number): Step {
  const step = recording.steps[index];
  if (!step) throw new Error(`no step ${index} in ${recording.title}`);
  return step;
}

function auth(key: string): Record<string, string> {
  return { authorization: `Bearer ${key}` };
}

/** What a reader of a failed assertion needs: the run's error and every action that did not pass. */
function why(result: any): string {
  const notPassed = (result.actions ?? []).filter((a: { status: string }) => a.status !== "passed");
  return JSON.stringify({ status: result.status, error: result.error, actions: notPassed }, null, 1);
}

async function createProject(name: string): Promise<{ id: string; key: string }> {
  const response = await stack.request("POST", "/api/projects", { name }, auth(ADMIN_TOKEN));
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return { id: response.body.project.id, key: response.body.apiKey };
}

/** Stores the recording (checking the import) and starts a run of it; answers the run's id. */
async function storeAndRun(recording: ChromeRecording): Promise<string> {
  const stored = await stack.request("POST", "/api/recordings", recording, auth(allowingKey));
  expect(stored.status, JSON.stringify(stored.body)).toBe(201);
  expect(stored.body.sourceFormat).toBe("chrome-recorder");
  // No step silently dropped: every step is the actions the mapping says.
  const expected = actionsPerStep(recording).reduce((sum, count) => sum + count, 0);
  expect(stored.body.actionCount, `${recording.title}: ${JSON.stringify(stored.body.warnings)}`).toBe(expected);
  const submitted = await stack.request("POST", "/api/runs", { recordingId: stored.body.id }, auth(allowingKey));
  expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
  return submitted.body.id;
}

async function finished(runId: string): Promise<any> {
  stack.apiKey = allowingKey;
  return stack.waitForRun(runId, TERMINAL, RUN_WAIT_MS);
}

/** Wrong expectations, derived from the good recordings, each with a short timeout on its step. */
const broken: { name: string; file: string; edit: (r: ChromeRecording) => number; offset: number; message: RegExp }[] =
  [
    {
      name: "a waitForElement count that never holds",
      file: "waits.json",
      edit: (r) => {
        const index = stepIndex(r, (s) => s.type === "waitForElement" && s.count === 3);
        Object.assign(stepAt(r, index), { count: 4, timeout: 2000 });
        return index;
      },
      offset: 0,
      message: /\.row|4/,
    },
    {
      name: "an asserted navigation title that is wrong",
      file: "misc.json",
      edit: (r) => {
        const index = stepIndex(r, (s) => s.type === "navigate" && s.url === `${site.url}/title`);
        const event = stepAt(r, index).assertedEvents?.[0];
        if (!event) throw new Error("no asserted event");
        event.title = "Wrong Title";
        stepAt(r, index).timeout = 2000;
        return index;
      },
      // navigate, then the URL check, then the title check
      offset: 2,
      message: /Wrong Title/,
    },
    {
      name: "an aria name that does not exist",
      file: "shadow-dom.json",
      edit: (r) => {
        const index = stepIndex(r, (s) => JSON.stringify(s.selectors ?? []).includes("aria/Press me"));
        Object.assign(stepAt(r, index), { selectors: [['aria/Press nobody[role="button"]']], timeout: 2000 });
        return index;
      },
      offset: 0,
      message: /Press nobody/,
    },
  ];

const goodRuns = new Map<string, string>();
const brokenRuns = new Map<string, { runId: string; actionIndex: number }>();

beforeAll(async () => {
  site = await startFixtureSite();
  stack = await createStack("chrome-recorder");
  await Promise.all([stack.startApi(), stack.startWorker("w-chrome-recorder")]);
  const allowing = await createProject("recorder-allowing");
  const strict = await createProject("recorder-strict");
  allowingKey = allowing.key;
  strictKey = strict.key;
  stack.apiKey = allowingKey;
  const patched = await stack.request(
    "PATCH",
    `/api/projects/${allowing.id}`,
    { allowExpressions: true },
    auth(ADMIN_TOKEN),
  );
  expect(patched.status, JSON.stringify(patched.body)).toBe(200);
  // Every run is submitted up front: the worker replays them while the tests wait in turn.
  const good = await Promise.all(FILES.map(async (file) => [file, await storeAndRun(load(file))] as const));
  for (const [file, runId] of good) goodRuns.set(file, runId);
  const bad = await Promise.all(
    broken.map(async (variant) => {
      let index = -1;
      const recording = load(variant.file, (r) => {
        index = variant.edit(r);
      });
      const runId = await storeAndRun(recording);
      return [variant.name, { runId, actionIndex: firstActionOf(recording, index) + variant.offset }] as const;
    }),
  );
  for (const [name, entry] of bad) brokenRuns.set(name, entry);
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  await stack?.stop();
  await site?.close();
});

describe("Chrome DevTools Recorder exports, stored unchanged", () => {
  it("covers seven recordings", () => {
    expect(FILES).toEqual([
      "changes.json",
      "form-keyboard.json",
      "iframe.json",
      "misc.json",
      "popup.json",
      "shadow-dom.json",
      "waits.json",
    ]);
  });

  it.each(FILES)("%s replays and passes", { timeout: TEST_TIMEOUT_MS }, async (file) => {
    const result = await finished(goodRuns.get(file) ?? "");
    expect(result.status, why(result)).toBe("passed");
    expect(result.counts.failed).toBe(0);
    expect(result.actions).toHaveLength(actionsPerStep(load(file)).reduce((sum, count) => sum + count, 0));
    expect(
      result.actions.every((a: { status: string }) => a.status === "passed"),
      why(result),
    ).toBe(true);
  });

  it.each(broken.map((variant) => [variant.name, variant] as const))(
    "fails at the right action with %s",
    { timeout: TEST_TIMEOUT_MS },
    async (name, variant) => {
      const entry = brokenRuns.get(name);
      if (!entry) throw new Error(`no run for ${name}`);
      const result = await finished(entry.runId);
      expect(result.status, why(result)).toBe("failed");
      expect(result.error.actionIndex, why(result)).toBe(entry.actionIndex);
      const failing = result.actions.find((a: { status: string }) => a.status === "failed");
      expect(failing.index, why(result)).toBe(entry.actionIndex);
      expect(failing.error.message).toMatch(variant.message);
      // Nothing after the failing action ran.
      expect(result.actions.at(-1).index).toBe(entry.actionIndex);
    },
  );

  it("refuses a waitForExpression step in a project that does not allow expressions", async () => {
    const recording = load("waits.json");
    const index = stepIndex(recording, (s) => s.type === "waitForExpression");
    const refused = await stack.request("POST", "/api/recordings", recording, auth(strictKey));
    expect(refused.status, JSON.stringify(refused.body)).toBe(403);
    expect(JSON.stringify(refused.body)).toContain(`steps[${index}]: waitForExpression`);
  });
});
