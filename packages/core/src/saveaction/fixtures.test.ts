import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { recordingSchema } from "../recording.ts";
import { detectFormat, importRecording } from "./detect.ts";
import { importSaveAction } from "./import.ts";

// Real (scrubbed) exports from the SaveAction recorder, shared by every package's tests.
const FIXTURES = new URL("../../../../../shared/fixtures/saveaction/", import.meta.url);
const files = readdirSync(FIXTURES)
  .filter((name) => name.endsWith(".json"))
  .sort();

interface SourceAction {
  id: string;
  type: string;
  inputType?: string;
  navigationTrigger?: string;
  event?: string;
  [key: string]: unknown;
}

function load(name: string): { body: unknown; recording: { actions: SourceAction[]; version?: string } } {
  const body = JSON.parse(readFileSync(new URL(name, FIXTURES), "utf8")) as Record<string, unknown>;
  const recording = (body.data ?? body) as { actions: SourceAction[]; version?: string };
  return { body, recording };
}

/**
 * Source actions the recorder captured twice or as side effects, read off the fixtures by hand
 * (timestamps, identical selectors, same coordinates): the second capture of one physical click
 * (mousedown + click, 0–113 ms apart), the `input` a checkbox click fires, and a link click's
 * page change the recorder labelled "back".
 */
const HAND_CHECKED: Record<string, { duplicateClicks: string[]; toggleSideEffects: string[]; linkBacks: string[] }> = {
  "222.json": {
    duplicateClicks: [
      "act_051",
      "act_054",
      "act_057",
      "act_074",
      "act_077",
      "act_082",
      "act_085",
      "act_088",
      "act_091",
    ],
    toggleSideEffects: ["act_048", "act_050", "act_053", "act_056"],
    linkBacks: ["act_042"],
  },
  "extension-1765897608335.json": {
    duplicateClicks: ["act_017", "act_023", "act_026", "act_029", "act_034", "act_046"],
    toggleSideEffects: ["act_022"],
    linkBacks: [],
  },
  "final-test.json": { duplicateClicks: ["act_014", "act_036"], toggleSideEffects: [], linkBacks: [] },
};
const NONE = { duplicateClicks: [], toggleSideEffects: [], linkBacks: [] };

/** The canonical type each replayed source type becomes; checkbox inputs become checks. */
function canonicalType(action: SourceAction): string {
  switch (action.type) {
    case "navigation":
      return "navigate";
    case "modal-lifecycle":
      return "modal";
    case "checkpoint":
      return "assert";
    case "input":
      return action.inputType === "checkbox" || action.inputType === "radio" ? "check" : "input";
    default:
      return action.type;
  }
}

/**
 * Which source actions should be replayed, decided from the source alone: every `submit` in
 * these fixtures follows the click that submitted the form; click, form-submit and redirect
 * navigations are caused by the action before them; a run of modal events is one wait.
 */
function expectedReplayed(name: string, actions: SourceAction[]): SourceAction[] {
  const checked = HAND_CHECKED[name] ?? NONE;
  const skip = new Set([...checked.duplicateClicks, ...checked.toggleSideEffects, ...checked.linkBacks]);
  return actions.filter((action, index) => {
    if (skip.has(action.id)) return false;
    if (action.type === "submit") return false;
    if (action.type === "navigation") {
      return !["click", "form-submit", "redirect"].includes(action.navigationTrigger ?? "");
    }
    if (action.type === "modal-lifecycle") return actions[index - 1]?.type !== "modal-lifecycle";
    return true;
  });
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

describe("SaveAction fixtures", () => {
  it("has fixtures to test", () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
  });

  describe.each(files)("%s", (name) => {
    const { body, recording: source } = load(name);

    it("is detected and imports without error or warnings", () => {
      expect(detectFormat(body)).toBe("saveaction");
      const result = importRecording(body);
      expect(result.format).toBe("saveaction");
      expect(result.warnings).toEqual([]);
      expect(recordingSchema.parse(result.recording)).toEqual(result.recording);
    });

    it("replays the source's actions in order, each mapped to its canonical type", () => {
      const { recording, source: info } = importSaveAction(body);
      const replayed = expectedReplayed(name, source.actions);
      expect(recording.actions.map((a) => a.id)).toEqual(replayed.map((a) => a.id));
      expect(recording.actions.map((a) => a.type)).toEqual(replayed.map(canonicalType));
      expect(countBy(recording.actions, (a) => a.type)).toEqual(countBy(replayed, canonicalType));

      // Every source action is either replayed or listed as dropped, once.
      const accounted = [...recording.actions.map((a) => a.id), ...info.dropped.map((d) => d.actionId)];
      expect([...accounted].sort()).toEqual(source.actions.map((a) => a.id).sort());
      expect(info.actionCount).toBe(source.actions.length);
      expect(info.version).toBe(source.version);
    });

    it("drops exactly the side effects and duplicates", () => {
      const { source: info } = importSaveAction(body);
      const checked = HAND_CHECKED[name] ?? NONE;
      const ids = (reason: string): Array<string | undefined> =>
        info.dropped.filter((d) => d.reason === reason).map((d) => d.actionId);
      expect(ids("duplicate-click")).toEqual(checked.duplicateClicks);
      expect(ids("toggle-side-effect")).toEqual(checked.toggleSideEffects);
      expect(info.duplicateClicks).toBe(checked.duplicateClicks.length);
      expect(info.toggleSideEffects).toBe(checked.toggleSideEffects.length);
      const count = (predicate: (a: SourceAction) => boolean): number => source.actions.filter(predicate).length;
      expect(info.implicitSubmits).toBe(count((a) => a.type === "submit"));
      expect(info.implicitNavigations).toBe(
        count(
          (a) => a.type === "navigation" && ["click", "form-submit", "redirect"].includes(a.navigationTrigger ?? ""),
        ) + checked.linkBacks.length,
      );
      expect(info.dropped.filter((d) => d.reason === "unknown-type" || d.reason === "unsupported")).toEqual([]);
    });

    it("gives every element action at least one selector candidate", () => {
      const { recording } = importSaveAction(body);
      for (const action of recording.actions) {
        if (["click", "input", "check", "select", "hover", "submit"].includes(action.type)) {
          const selector = "selector" in action ? action.selector : undefined;
          expect(Array.isArray(selector) && selector.length > 0, `${action.id} has candidates`).toBe(true);
        }
      }
    });

    it("keeps no recorded value of an input bound to a variable", () => {
      const { recording } = importSaveAction(body);
      const json = JSON.stringify(recording);
      for (const action of source.actions) {
        if (action.type === "input" && typeof action.variableName === "string" && typeof action.value === "string") {
          expect(json).not.toContain(action.value);
          expect(json).toContain(`"\${${action.variableName}}"`);
        }
      }
    });
  });

  it("imports test-upload.json (the upload wrapper around test.json) exactly like test.json", () => {
    expect(importRecording(load("test-upload.json").body)).toEqual(importRecording(load("test.json").body));
  });

  it("imports the { data } upload wrapper exactly like the bare export", () => {
    const wrapped = files.filter((name) => {
      const body = load(name).body as Record<string, unknown>;
      return body.data !== undefined;
    });
    expect(wrapped.length).toBeGreaterThan(0);
    for (const name of wrapped) {
      const { body, recording } = load(name);
      expect(importRecording(body)).toEqual(importRecording(recording));
    }
  });
});
