import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Action, SelectorCandidate } from "../recording.ts";
import { detectFormat, importRecording } from "../saveaction/detect.ts";
import { importChromeRecording } from "./import.ts";

// Chrome DevTools Recorder exports written by other people (SOURCES.md says where each came from).
// They drive live public sites: imported here, never replayed.
const FOLDER = new URL("../../../../../shared/fixtures/chrome-recorder/", import.meta.url);
const files = readdirSync(FOLDER)
  .filter((name) => name.endsWith(".json"))
  .sort();
/** A single step exported on its own, not a recording: the counts below leave it out. */
const SINGLE_STEP = "catchpoint__WebPageTest.recorder-to-script__sample-recordings__singlestep.json";
/** A recording without the `title` the Recorder requires (puppeteer/replay's negative fixture). */
const NO_TITLE = "puppeteer__replay__test__resources__replay-fail.json";
const LIGHTHOUSE = new Set(["startTimespan", "endTimespan", "snapshot"]);

interface RawStep {
  type: string;
  selectors?: (string | string[])[];
  assertedEvents?: { type: string; url?: string; title?: string }[];
  key?: string;
  [field: string]: unknown;
}

function load(name: string): { body: unknown; steps: RawStep[] } {
  const body = JSON.parse(readFileSync(new URL(name, FOLDER), "utf8")) as { steps?: RawStep[] };
  return { body, steps: body.steps ?? [] };
}

function candidatesOf(action: Action): SelectorCandidate[] {
  return "selector" in action && Array.isArray(action.selector) ? action.selector : [];
}

function tally<T extends string>(values: T[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

const recordings = files.filter((name) => name !== SINGLE_STEP);
const imported = recordings.map((name) => ({ name, raw: load(name), result: importChromeRecording(load(name).body) }));
const allSteps = imported.flatMap(({ raw }) => raw.steps);
const allActions = imported.flatMap(({ result }) => result.recording.actions);

describe("Chrome DevTools Recorder exports", () => {
  it("has the 29 fixture files", () => {
    expect(files).toHaveLength(29);
  });

  it.each(files)("%s is detected and imports", (name) => {
    const { body } = load(name);
    expect(detectFormat(body)).toBe("chrome-recorder");
    const result = importRecording(body);
    expect(result.format).toBe("chrome-recorder");
    expect(result.recording.actions.length).toBeGreaterThan(0);
    expect(result.actionSources).toHaveLength(result.recording.actions.length);
    // Nothing in these exports is secret but saucedemo's public demo password.
    expect(JSON.stringify(result.original).includes("[redacted]")).toBe(name.startsWith("saucelabs__"));
  });

  it("counts the steps of every type the issue measured (214, the single step aside)", () => {
    expect(allSteps).toHaveLength(214);
    expect(tally(allSteps.map((step) => step.type))).toEqual({
      click: 87,
      navigate: 29,
      setViewport: 24,
      change: 23,
      keyDown: 14,
      keyUp: 14,
      hover: 3,
      waitForElement: 3,
      waitForExpression: 3,
      doubleClick: 2,
      startTimespan: 4,
      endTimespan: 4,
      snapshot: 4,
    });
    const stepTypes: Record<string, number> = {};
    for (const { result } of imported) {
      for (const [type, count] of Object.entries(result.source.stepTypes))
        stepTypes[type] = (stepTypes[type] ?? 0) + count;
    }
    expect(stepTypes).toEqual(tally(allSteps.map((step) => step.type)));
  });

  it("drops no step silently: each has actions, or is carried by one or the recording, or is warned about", () => {
    for (const { name, raw, result } of imported) {
      const sources = new Set(result.actionSources);
      const dropped = new Map(result.source.dropped.map((drop) => [drop.index, drop]));
      const warned = new Set(result.warnings.map((warning) => warning.index));
      raw.steps.forEach((step, index) => {
        const where = `${name} steps[${index}] (${step.type})`;
        const drop = dropped.get(index);
        expect(sources.has(`steps[${index}]`) || drop !== undefined, where).toBe(true);
        if (drop?.reason === "unknown-type" || drop?.reason === "unsupported")
          expect(warned.has(index), where).toBe(true);
      });
    }
  });

  it("maps each step type to its canonical actions", () => {
    const types = tally(allActions.map((action) => action.type));
    const viewports = imported.filter(({ result }) => result.recording.viewport !== undefined).length;
    // Every file's first setViewport comes first: it is the recording's viewport.
    expect(viewports).toBe(24);
    expect(types.setViewport).toBeUndefined();
    // 29, but for the Recorder opened in a new tab: chrome://new-tab-page/ is skipped.
    expect(types.navigate).toBe(28);
    // 87 clicks and 2 double clicks.
    expect(types.click).toBe(89);
    expect(allActions.filter((action) => action.type === "click" && action.clickCount === 2)).toHaveLength(2);
    // Every change is a text field or a select in these exports.
    expect(types.input).toBe(23);
    expect(types.check).toBeUndefined();
    expect(types.hover).toBe(3);
    expect(types.waitForElement).toBe(3);
    expect(types.waitForExpression).toBe(3);
    // 14 keyDown/keyUp pairs, two of them Meta held around "c": 12 keypresses, those two with Meta.
    expect(types.keypress).toBe(12);
    expect(allActions.filter((action) => action.type === "keypress" && action.modifiers?.includes("Meta"))).toEqual([
      { type: "keypress", key: "c", modifiers: ["Meta"] },
      { type: "keypress", key: "c", modifiers: ["Meta"] },
    ]);
    const dropped = imported.flatMap(({ result }) => result.source.dropped);
    expect(tally(dropped.map((drop) => drop.reason))).toEqual({
      viewport: 24,
      "key-release": 14,
      modifier: 2,
      "unknown-type": 12,
      unsupported: 1,
    });
  });

  it("keeps every selector alternative as a candidate, in order, by kind", () => {
    const alternatives = allSteps.flatMap((step) => step.selectors ?? []);
    expect(alternatives.filter((alternative) => typeof alternative === "string")).toHaveLength(13);
    const chains = alternatives.filter((alternative) => Array.isArray(alternative) && alternative.length > 1);
    expect(chains).toHaveLength(5);
    for (const chain of chains)
      expect(chain).toEqual([expect.stringMatching(/^aria\//), expect.stringMatching(/^aria\//)]);

    const candidates = allActions.flatMap(candidatesOf);
    expect(candidates).toHaveLength(alternatives.length);
    expect(tally(candidates.map((candidate) => candidate.strategy))).toEqual({
      css: 118,
      aria: 73,
      xpath: 19,
      "text-contains": 11,
      pierce: 1,
    });
    const chained = candidates.filter((candidate) => candidate.within !== undefined);
    expect(chained).toHaveLength(5);
    expect(chained[1]).toEqual({
      strategy: "aria",
      value: '[role="generic"]',
      within: [
        {
          strategy: "aria",
          value:
            "Add to cart - 5 Surprise Mini Brands Mystery Capsule Real Miniature Brands Collectible Toy by ZURU (3 Pack)",
        },
      ],
    });
    // Order and values as written, prefixes removed.
    for (const { raw, result } of imported) {
      const withSelectors = raw.steps.filter((step) => step.selectors !== undefined);
      const acting = result.recording.actions.filter((action) => candidatesOf(action).length > 0);
      expect(acting.map((action) => candidatesOf(action).length)).toEqual(
        withSelectors.map((step) => step.selectors?.length),
      );
      withSelectors.forEach((step, index) => {
        const last = (step.selectors ?? []).map((alternative) =>
          typeof alternative === "string" ? alternative : alternative[alternative.length - 1],
        );
        expect(candidatesOf(acting[index] as Action).map((candidate) => candidate.value)).toEqual(
          last.map((part) => part?.replace(/^(aria|text|xpath|pierce)\//, "")),
        );
      });
    }
  });

  it("checks the URL and title of every asserted navigation after its step", () => {
    const asserting = tally(allSteps.filter((step) => step.assertedEvents?.length).map((step) => step.type));
    expect(asserting).toEqual({ navigate: 23, click: 14, keyDown: 1 });
    // The skipped navigation to chrome://new-tab-page/ is not checked either.
    const replayed = allSteps.filter((step) => !String(step.url).startsWith("chrome://"));
    expect(replayed).toHaveLength(allSteps.length - 1);
    const events = replayed.flatMap((step) => step.assertedEvents ?? []);
    const asserts = allActions.filter((action) => action.type === "assert");
    expect(asserts.filter((a) => a.check === "urlMatch" || a.check === "urlContains")).toHaveLength(
      events.filter((event) => event.url).length,
    );
    expect(asserts.filter((a) => a.check === "pageTitle")).toHaveLength(events.filter((event) => event.title).length);
    expect(asserts.filter((a) => a.check === "urlContains")).toHaveLength(
      events.filter((event) => event.url?.includes("?")).length,
    );
  });

  it("warns per step about what it skips, and about nothing else", () => {
    const warnings = imported.flatMap(({ name, result }) => result.warnings.map((warning) => ({ name, ...warning })));
    const perStep = warnings.filter((warning) => warning.index !== undefined);
    expect(perStep).toHaveLength(13);
    expect(perStep.filter((warning) => warning.type === "navigate")).toEqual([
      {
        name: "AtofStryker__cypress-chrome-recorder-issue-54__cypress__e2e__cypress_recorder.json",
        index: 1,
        type: "navigate",
        path: "steps[1]",
        message: "chrome://new-tab-page/ is the browser's own page, not a site; skipped",
      },
    ]);
    for (const warning of perStep.filter((warning) => warning.type !== "navigate")) {
      expect(LIGHTHOUSE.has(warning.type ?? "")).toBe(true);
      expect(warning.path).toBe(`steps[${warning.index}]`);
      expect(warning.message).toMatch(/Lighthouse user-flow step.*skipped/);
    }
    expect(warnings.filter((warning) => warning.index === undefined)).toEqual([
      { name: NO_TITLE, path: "title", message: expect.stringMatching(/no title/) },
    ]);
  });

  it("keeps the recording-level and step timeouts", () => {
    const { result } =
      imported.find(({ name }) => name === "jecfish__recorder-demo__recordings__order-a-coffee.json") ?? {};
    const timeouts = result?.recording.actions.map((action) => action.timeoutMs);
    // "timeout": 7000 on the recording, 8000 on one step.
    expect(new Set(timeouts)).toEqual(new Set([7000, 8000]));
  });

  it("imports a single step exported on its own as a one-step recording, with a warning", () => {
    const result = importRecording(load(SINGLE_STEP).body);
    expect(result.recording.actions).toEqual([
      { type: "navigate", url: "https://hauslondon.com/" },
      { type: "assert", check: "urlMatch", expected: "https://hauslondon.com/" },
      {
        type: "assert",
        check: "pageTitle",
        expected: "Contemporary furniture, lighting, gifts | London design shop | haus®",
      },
    ]);
    expect(result.actionSources).toEqual(["(root)", "(root)", "(root)"]);
    expect(result.warnings).toEqual([{ path: "title", message: expect.stringMatching(/single step/) }]);
  });
});
