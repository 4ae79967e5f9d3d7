// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recordings spell variables as ${NAME}
import { describe, expect, it } from "vitest";
import type { RecordingInput } from "../recording.ts";
import { detectFormat, expressionActions, importRecording } from "./detect.ts";
import { RecordingImportError } from "./errors.ts";

const CANONICAL: RecordingInput = {
  version: 1,
  name: "Checkout",
  startUrl: "https://shop.test/",
  viewport: { width: 1280, height: 720 },
  variables: [{ name: "CARD", sensitive: true }],
  dialogs: "dismiss",
  actions: [
    { id: "a1", type: "click", selector: [{ strategy: "testid", value: "buy", confidence: 95 }], button: "left" },
    { type: "input", selector: "#card", value: "${CARD}", sensitive: true, mode: "type", typingDelayMs: 20 },
    { type: "scroll", x: 0, y: 400 },
    { type: "assert", check: "pageLoad" },
    { type: "assert", check: "urlContains", expected: "/thanks" },
  ],
};

const SAVEACTION = {
  id: "rec_1",
  version: "1.0.0",
  testName: "Checkout",
  url: "https://shop.test/",
  startTime: "2026-01-01T00:00:00.000Z",
  viewport: { width: 1280, height: 720 },
  userAgent: "test",
  actions: [
    {
      id: "act_001",
      type: "click",
      timestamp: 100,
      url: "https://shop.test/",
      selector: { id: "buy", priority: ["id"] },
      tagName: "button",
      coordinates: { x: 1, y: 1 },
      coordinatesRelativeTo: "element",
      button: "left",
      clickCount: 1,
      modifiers: [],
    },
  ],
};

function importError(body: unknown): RecordingImportError {
  try {
    importRecording(body);
  } catch (error) {
    if (error instanceof RecordingImportError) return error;
    throw error;
  }
  throw new Error("expected a RecordingImportError");
}

describe("detectFormat", () => {
  it("recognises a canonical recording", () => {
    expect(detectFormat(CANONICAL)).toBe("conveyor");
  });

  it("recognises a SaveAction export, bare or wrapped in { data }", () => {
    expect(detectFormat(SAVEACTION)).toBe("saveaction");
    expect(detectFormat({ data: SAVEACTION })).toBe("saveaction");
  });

  it("recognises a SaveAction export by its actions alone", () => {
    const { testName: _name, version: _version, ...anonymous } = SAVEACTION;
    expect(detectFormat(anonymous)).toBe("saveaction");
    expect(detectFormat({ actions: [{ type: "navigation", to: "https://shop.test/" }] })).toBe("saveaction");
  });

  it("says unknown for anything else", () => {
    for (const garbage of [null, 42, "recording", [], {}, { actions: "none" }, { name: "x" }, { data: CANONICAL }]) {
      expect(detectFormat(garbage)).toBe("unknown");
    }
    expect(detectFormat({ name: "x", actions: [{ type: "teleport" }] })).toBe("unknown");
  });
});

describe("importRecording", () => {
  it("passes a canonical recording through unchanged", () => {
    const result = importRecording(CANONICAL);
    expect(result).toEqual({ recording: CANONICAL, format: "conveyor", warnings: [] });
  });

  it("converts a SaveAction export", () => {
    const result = importRecording(SAVEACTION);
    expect(result.format).toBe("saveaction");
    expect(result.recording.actions).toEqual([
      {
        id: "act_001",
        type: "click",
        selector: [{ strategy: "id", value: "buy", confidence: 90 }],
        button: "left",
        clickCount: 1,
        position: { x: 1, y: 1 },
      },
    ]);
    expect(result.source).toMatchObject({ format: "saveaction", actionCount: 1 });
  });

  it("names an unknown canonical action type and the types that exist", () => {
    const error = importError({
      name: "x",
      actions: [{ type: "click", selector: "#a" }, { type: "navigate", url: "/" }, { type: "teleport" }],
    });
    expect(error.issues[0]).toEqual({
      path: "actions[2].type",
      message: expect.stringContaining('unknown action type "teleport"; expected one of navigate, click, input'),
    });
    expect(error.message).toContain("actions[2].type: unknown action type");
    expect(error.message).toContain("SaveAction recorder export");
  });

  it("names the first wrong field of an almost-canonical recording", () => {
    const error = importError({ name: "x", actions: [{ type: "click", selector: "#a", clickCount: 9 }] });
    expect(error.issues).toEqual([{ path: "actions[0].clickCount", message: expect.stringContaining("3") }]);
  });

  it("names the first wrong field of an almost-SaveAction export", () => {
    const broken = { ...SAVEACTION, actions: [{ ...SAVEACTION.actions[0], selector: "#buy" }] };
    const error = importError(broken);
    expect(error.issues).toEqual([{ path: "actions[0].selector", message: "expected an object, got a string" }]);
  });

  it("explains both accepted shapes for garbage", () => {
    for (const garbage of [null, "x", { hello: "world" }]) {
      const error = importError(garbage);
      expect(error.message).toMatch(/Conveyor recording .*SaveAction recorder export/);
    }
  });
});

describe("Chrome DevTools Recorder exports", () => {
  const CHROME = {
    title: "Checkout",
    steps: [
      { type: "setViewport", width: 1280, height: 720, deviceScaleFactor: 1, isMobile: false, hasTouch: false },
      { type: "navigate", url: "https://shop.test/" },
      { type: "click", selectors: [["aria/Buy"], ["#buy"]], offsetX: 1, offsetY: 1 },
    ],
  };

  it("are recognised by their steps, with or without a title, and a single step on its own", () => {
    expect(detectFormat(CHROME)).toBe("chrome-recorder");
    expect(detectFormat({ steps: CHROME.steps })).toBe("chrome-recorder");
    expect(detectFormat({ title: "x", steps: [] })).toBe("chrome-recorder");
    expect(detectFormat({ type: "navigate", url: "https://shop.test/" })).toBe("chrome-recorder");
    // A canonical action on its own is not a step: it has a selector.
    expect(detectFormat({ type: "click", selector: "#buy" })).toBe("unknown");
    expect(detectFormat({ steps: [{ command: "open" }] })).toBe("unknown");
  });

  it("import through the one entry point, with where each action came from", () => {
    const result = importRecording(CHROME);
    expect(result.format).toBe("chrome-recorder");
    expect(result.recording.viewport).toEqual({ width: 1280, height: 720 });
    expect(result.actionSources).toEqual(["steps[1]", "steps[2]"]);
    expect(result.original).toBe(CHROME);
  });

  it("locate SaveAction warnings the same way", () => {
    const result = importRecording({ ...SAVEACTION, actions: [...SAVEACTION.actions, { type: "teleport" }] });
    expect(result.warnings).toEqual([
      { index: 1, type: "teleport", path: "actions[1]", message: 'unknown action type "teleport"; dropped' },
    ]);
    expect(result.actionSources).toEqual(["actions[0]"]);
  });

  it("say which actions run JavaScript, by where they came from", () => {
    const chrome = importRecording({
      title: "x",
      steps: [
        { type: "navigate", url: "https://shop.test/" },
        { type: "startTimespan" },
        { type: "waitForExpression", expression: "window.ready" },
      ],
    });
    expect(expressionActions(chrome)).toEqual([{ index: 1, path: "steps[2]" }]);
    const canonical = importRecording({ name: "x", actions: [{ type: "waitForExpression", expression: "1" }] });
    expect(expressionActions(canonical)).toEqual([{ index: 0, path: "actions[0]" }]);
  });
});

describe("a body in no known format", () => {
  it("is refused with what it looks like and what is accepted, first", () => {
    const cases: [unknown, RegExp][] = [
      [
        { title: "x", steps: "all of them" },
        /^This looks like a Chrome DevTools Recorder export, but it is not valid\./,
      ],
      [
        [{ type: "navigate", url: "https://a.test/" }],
        /^This looks like the steps of a Chrome DevTools Recorder export without the recording around them/,
      ],
      [
        [{ type: "click", selector: "#a" }],
        /^This looks like the actions of a Conveyor recording without the recording/,
      ],
      [
        { id: "x", version: "2.0", name: "suite", tests: [{ id: "t", commands: [] }], suites: [] },
        /^This looks like a Selenium IDE project/,
      ],
      [{ log: { version: "1.2", entries: [] } }, /^This looks like an HTTP Archive \(HAR\)/],
      [{ name: "flow", steps: [{ lhr: {}, name: "step" }] }, /^This looks like a Lighthouse user-flow report/],
      [
        { version: 8, type: "context-options", browserName: "chromium" },
        /^This looks like an event of a Playwright trace/,
      ],
      [{ config: {}, suites: [], stats: {}, errors: [] }, /^This looks like a Playwright test report/],
      [{ e2e: { baseUrl: "http://localhost" } }, /^This looks like a Cypress configuration file/],
      [{ hello: "world" }, /^Not a recording in a known format: its fields are "hello"/],
      [{}, /^Not a recording: the body is an empty object\./],
      ["recording", /^Not a recording: the body is a string, not a JSON object\./],
    ];
    for (const [body, message] of cases) {
      const error = importError(body);
      expect(error.unknownFormat, JSON.stringify(body)).toBe(true);
      expect(error.message).toMatch(message);
      expect(error.message).toMatch(
        /Conveyor accepts a Conveyor recording .* a SaveAction recorder export .* a Chrome DevTools Recorder export/,
      );
    }
  });

  it("a Chrome export that fails is named as one; almost-recordings keep their first wrong field", () => {
    const chrome = importError({ title: "x", steps: [{ type: "navigate" }, { type: "customStep", name: "a" }] });
    expect(chrome.unknownFormat).toBe(false);
    expect(chrome.issues.map((issue) => issue.path)).toEqual(["steps[0].url", "steps[1]"]);
    expect(importError({ name: "x", actions: [{ type: "teleport" }] }).unknownFormat).toBe(false);
  });
});
