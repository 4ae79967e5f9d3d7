// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recordings spell variables as ${NAME}
import { describe, expect, it } from "vitest";
import type { RecordingInput } from "../recording.ts";
import { detectFormat, importRecording } from "./detect.ts";
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
    expect(result.source?.actionCount).toBe(1);
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
