import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { recordingSchema } from "../recording.ts";
import { detectFormat, importRecording } from "./detect.ts";
import { importSaveAction } from "./import.ts";

// Real (scrubbed) exports from the SaveAction recorder, shared by every package's tests;
// saveaction-more/SOURCES.md says where each of the second folder's came from.
const FOLDERS = ["saveaction", "saveaction-more"].map(
  (folder) => new URL(`../../../../../shared/fixtures/${folder}/`, import.meta.url),
);
const folderOf = new Map<string, URL>();
for (const folder of FOLDERS) {
  for (const name of readdirSync(folder).filter((entry) => entry.endsWith(".json"))) folderOf.set(name, folder);
}
const files = [...folderOf.keys()].sort();

interface SourceAction {
  id: string;
  type: string;
  inputType?: string;
  navigationTrigger?: string;
  event?: string;
  [key: string]: unknown;
}

function load(name: string): { body: unknown; recording: { actions: SourceAction[]; version?: string } } {
  const folder = folderOf.get(name);
  if (folder === undefined) throw new Error(`no fixture ${name}`);
  const body = JSON.parse(readFileSync(new URL(name, folder), "utf8")) as Record<string, unknown>;
  const recording = (body.data ?? body) as { actions: SourceAction[]; version?: string };
  return { body, recording };
}

/**
 * Source actions read off the fixtures by hand (timestamps, selectors, coordinates, URLs):
 * - `duplicateClicks`: the second capture of one physical click (mousedown + click, 0–164 ms apart);
 * - `toggleSideEffects`: the `input` a checkbox click fires;
 * - `clickNavigations`: a page change labelled "back" that the click just before caused: a click
 *   on a link (`a`), on an `<img>` inside a link or on a `<span>` inside a form's submit button,
 *   0.4–1.3 s before; or on a link whose address is the navigation's (222.json, 3.5 s);
 * - `mergedInputs`: an `input` on the field the `input` right before typed into (the recorder
 *   emits one per pause in typing), folded into the first of the run.
 */
interface HandChecked {
  duplicateClicks: string[];
  toggleSideEffects: string[];
  clickNavigations: string[];
  mergedInputs: string[];
}
const NONE: HandChecked = { duplicateClicks: [], toggleSideEffects: [], clickNavigations: [], mergedInputs: [] };
const HAND_CHECKED: Record<string, Partial<HandChecked>> = {
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
    clickNavigations: ["act_042"],
    mergedInputs: ["act_003"],
  },
  "extension-1765897608335.json": {
    duplicateClicks: ["act_017", "act_023", "act_026", "act_029", "act_034", "act_046"],
    toggleSideEffects: ["act_022"],
    mergedInputs: ["act_003", "act_004"],
  },
  "final-test.json": { duplicateClicks: ["act_014", "act_036"], mergedInputs: ["act_010"] },
  // The email typed in five pauses (act_002–act_006); a password bound to ${PASSWORD}.
  "SaveActionHQ__SaveAction-recorder-browser-extenstion@d74e0ff__test_1765976238620.json": {
    duplicateClicks: ["act_028", "act_035", "act_039"],
    mergedInputs: ["act_003", "act_004", "act_005", "act_006"],
  },
  "SaveActionHQ__SaveAction@1596385__test8_1763549638010.json": { duplicateClicks: ["act_015"] },
  // act_012/act_028 follow a click on the <span> inside the search form's submit button,
  // act_032/act_052 one on the <img> inside a listing's link, act_065 one on a menu link.
  // act_015, act_045 and act_059 are the user's own Back: after a navigation, 11.9 s after
  // clicking the "Save" link, 2.9 s after clicking it again.
  "SaveActionHQ__SaveAction@5fe1aa8__test.json": {
    duplicateClicks: ["act_010", "act_026", "act_031", "act_035", "act_051", "act_057", "act_068"],
    clickNavigations: ["act_012", "act_028", "act_032", "act_052", "act_065"],
    mergedInputs: ["act_023"],
  },
  "SaveActionHQ__SaveAction@6d3f1ba__test8.json": { duplicateClicks: ["act_011", "act_019", "act_029", "act_035"] },
  // "Rews", then "Resturant" in the same field.
  "SaveActionHQ__SaveAction@6d3f1ba__test8_1763549638010.json": {
    duplicateClicks: ["act_012"],
    mergedInputs: ["act_005"],
  },
};
const handChecked = (name: string): HandChecked => ({ ...NONE, ...HAND_CHECKED[name] });

/** Canonical actions per type each fixture imports to, recounted by hand from the lists above. */
const COUNTS: Record<string, Record<string, number>> = {
  "222.json": { click: 27, hover: 7, input: 3, modal: 4, scroll: 14 },
  "db-export-with-checkpoints.json": { assert: 2, click: 7, input: 2, navigate: 1 },
  "extension-1765897608335.json": { click: 12, hover: 2, input: 4, modal: 1, scroll: 6, select: 1 },
  "final-test.json": { click: 10, hover: 3, input: 2, navigate: 3, scroll: 26 },
  "recording-1768127074764.json": { click: 13, input: 2, scroll: 10 },
  "test-upload.json": { click: 12, input: 2, scroll: 6 },
  "test.json": { click: 12, input: 2, scroll: 6 },
  "test7.json": { click: 15, hover: 5, input: 2, navigate: 1, scroll: 17 },
  "test8.json": { click: 7, input: 2, scroll: 3 },
  "update-1768320934669.json": { click: 18, input: 2, scroll: 14 },
  "SaveActionHQ__SaveAction-recorder-browser-extenstion@d74e0ff__test_1765976238620.json": {
    click: 14,
    hover: 1,
    input: 4,
    modal: 1,
    scroll: 8,
    select: 1,
  },
  "SaveActionHQ__SaveAction@1596385__test.json": { click: 5, hover: 2, scroll: 11 },
  "SaveActionHQ__SaveAction@1596385__test8_1763549638010.json": { click: 9, hover: 5, input: 2 },
  "SaveActionHQ__SaveAction@5fe1aa8__test.json": { click: 20, input: 4, navigate: 3, scroll: 28 },
  "SaveActionHQ__SaveAction@6d3f1ba__test8.json": { click: 15, input: 2, scroll: 35 },
  "SaveActionHQ__SaveAction@6d3f1ba__test8_1763549638010.json": { click: 8, input: 2 },
};

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
 * Which source actions should be replayed, decided from the source and the hand-checked lists:
 * every `submit` in these fixtures follows the click that submitted the form; click,
 * form-submit and redirect navigations are caused by the action before them; a run of modal
 * events is one wait.
 */
function expectedReplayed(name: string, actions: SourceAction[]): SourceAction[] {
  const checked = handChecked(name);
  const skip = new Set([
    ...checked.duplicateClicks,
    ...checked.toggleSideEffects,
    ...checked.clickNavigations,
    ...checked.mergedInputs,
  ]);
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

/** Every string in a JSON value, keys aside. */
function stringsIn(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(stringsIn);
  if (value !== null && typeof value === "object") return Object.values(value).flatMap(stringsIn);
  return [];
}

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

describe("SaveAction fixtures", () => {
  it("has fixtures to test, each with its expected counts", () => {
    expect(files.length).toBeGreaterThanOrEqual(16);
    expect(Object.keys(COUNTS).sort()).toEqual(files);
    for (const name of Object.keys(HAND_CHECKED)) expect(files).toContain(name);
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
      expect(countBy(recording.actions, (a) => a.type)).toEqual(COUNTS[name]);

      // Every source action is either replayed or listed as dropped (merged ones too), once.
      const accounted = [...recording.actions.map((a) => a.id), ...info.dropped.map((d) => d.actionId)];
      expect([...accounted].sort()).toEqual(source.actions.map((a) => a.id).sort());
      expect(info.actionCount).toBe(source.actions.length);
      expect(info.version).toBe(source.version);
    });

    it("drops exactly the side effects, duplicates and merged inputs", () => {
      const { source: info } = importSaveAction(body);
      const checked = handChecked(name);
      const ids = (reason: string): Array<string | undefined> =>
        info.dropped.filter((d) => d.reason === reason).map((d) => d.actionId);
      expect(ids("duplicate-click")).toEqual(checked.duplicateClicks);
      expect(ids("toggle-side-effect")).toEqual(checked.toggleSideEffects);
      expect(info.duplicateClicks).toBe(checked.duplicateClicks.length);
      expect(info.toggleSideEffects).toBe(checked.toggleSideEffects.length);
      expect(ids("merged-input")).toEqual(checked.mergedInputs);
      expect(info.mergedInputs).toBe(checked.mergedInputs.length);
      const triggerOf = new Map(source.actions.map((a) => [a.id, a.navigationTrigger]));
      expect(
        ids("implicit-navigation").filter((id) => ["back", "forward"].includes(triggerOf.get(id ?? "") ?? "")),
      ).toEqual(checked.clickNavigations);
      const count = (predicate: (a: SourceAction) => boolean): number => source.actions.filter(predicate).length;
      expect(info.implicitSubmits).toBe(count((a) => a.type === "submit"));
      expect(info.implicitNavigations).toBe(
        count(
          (a) => a.type === "navigation" && ["click", "form-submit", "redirect"].includes(a.navigationTrigger ?? ""),
        ) + checked.clickNavigations.length,
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

    it("replays each run of inputs on one field once, with the run's final value", () => {
      const { recording } = importSaveAction(body);
      const merged = new Set(handChecked(name).mergedInputs);
      source.actions.forEach((action, index) => {
        if (action.type !== "input" || merged.has(action.id)) return;
        let end = index;
        while (merged.has(source.actions[end + 1]?.id ?? "")) end++;
        const last = source.actions[end] ?? action;
        const replayed = recording.actions.find((a) => a.id === action.id);
        if (replayed?.type !== "input") return; // a checkbox, a file field
        const value = typeof last.variableName === "string" ? `\${${last.variableName}}` : last.value;
        expect(replayed.value, `${action.id}…${last.id}`).toBe(value);
      });
    });

    it("keeps no recorded value of an input bound to a variable, nor does the original it keeps", () => {
      const { recording, original } = importSaveAction(body);
      const json = JSON.stringify(recording);
      const strings = stringsIn(recording);
      const originalJson = JSON.stringify(original);
      const kept = (original as { data?: { actions: SourceAction[] }; actions?: SourceAction[] }).data ?? original;
      source.actions.forEach((action, index) => {
        if (action.type === "input" && typeof action.variableName === "string" && typeof action.value === "string") {
          // A one-character password ("1") is in any JSON with a digit: look for it as a whole value.
          if (action.value.length >= 4) {
            expect(json).not.toContain(action.value);
            expect(originalJson).not.toContain(action.value);
          } else {
            expect(strings).not.toContain(action.value);
          }
          expect((kept as { actions: SourceAction[] }).actions[index]?.value).toBe("[redacted]");
          expect(json).toContain(`"\${${action.variableName}}"`);
        }
      });
    });
  });

  it("leaves the page changes clicks inside links and submit buttons caused to those clicks (5fe1aa8 test.json)", () => {
    const { recording } = importSaveAction(load("SaveActionHQ__SaveAction@5fe1aa8__test.json").body);
    const ids = recording.actions.map((a) => a.id);
    // Clicks on the <span> in the search button, on the <img> in a listing's link.
    for (const [click, navigation] of [
      ["act_009", "act_012"],
      ["act_025", "act_028"],
      ["act_030", "act_032"],
      ["act_050", "act_052"],
    ] as const) {
      expect(ids).toContain(click);
      expect(ids).not.toContain(navigation);
    }
    // The user's own Back: replayed, to the page it went back to.
    expect(recording.actions.filter((a) => a.type === "navigate")).toEqual([
      expect.objectContaining({ id: "act_015", url: "https://www.rightdev.co.uk/" }),
      expect.objectContaining({
        id: "act_045",
        url: expect.stringContaining("/search/?more_category=none&sector=gyms"),
      }),
      expect.objectContaining({
        id: "act_059",
        url: expect.stringContaining("/search/?more_category=none&sector=gyms"),
      }),
    ]);
  });

  it("types the email typed in five pauses once, in full (d74e0ff test_1765976238620.json)", () => {
    const name = "SaveActionHQ__SaveAction-recorder-browser-extenstion@d74e0ff__test_1765976238620.json";
    const { recording } = importSaveAction(load(name).body);
    expect(recording.actions.filter((a) => a.type === "input")).toEqual([
      expect.objectContaining({ id: "act_002", value: "lemonybananathefourth@gmail.com", mode: "type" }),
      expect.objectContaining({ id: "act_008", value: "${PASSWORD}", sensitive: true }),
      expect.objectContaining({ id: "act_023", value: "test" }),
      expect.objectContaining({ id: "act_037", value: "test" }),
    ]);
  });

  /** Everything but the original, which is the upload as received (wrapper and all). */
  function converted(body: unknown) {
    const { original: _original, ...rest } = importRecording(body);
    return rest;
  }

  it("imports test-upload.json (the upload wrapper around test.json) exactly like test.json", () => {
    expect(converted(load("test-upload.json").body)).toEqual(converted(load("test.json").body));
  });

  it("imports the { data } upload wrapper exactly like the bare export", () => {
    const wrapped = files.filter((name) => {
      const body = load(name).body as Record<string, unknown>;
      return body.data !== undefined;
    });
    expect(wrapped.length).toBeGreaterThan(0);
    for (const name of wrapped) {
      const { body, recording } = load(name);
      expect(converted(body)).toEqual(converted(recording));
      expect(importRecording(body).original).toMatchObject({ data: { actions: expect.any(Array) } });
    }
  });
});
