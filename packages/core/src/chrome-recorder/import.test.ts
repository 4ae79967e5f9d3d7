import { describe, expect, it } from "vitest";
import { RecordingImportError } from "../saveaction/errors.ts";
import { type ChromeImportResult, importChromeRecording } from "./import.ts";

type Raw = Record<string, unknown>;

const BUTTON = [["aria/Buy"], ["#buy"]];
const recording = (steps: Raw[], fields: Raw = {}): Raw => ({ title: "Checkout", steps, ...fields });
const click = (fields: Raw = {}): Raw => ({
  type: "click",
  target: "main",
  selectors: BUTTON,
  offsetX: 10,
  offsetY: 5,
  ...fields,
});
const key = (type: "keyDown" | "keyUp", name: string): Raw => ({ type, target: "main", key: name });
const press = (name: string): Raw[] => [key("keyDown", name), key("keyUp", name)];
const navigate: Raw = { type: "navigate", url: "https://shop.test/" };

function convert(steps: Raw[], fields: Raw = {}): ChromeImportResult {
  return importChromeRecording(recording(steps, fields));
}

function importError(body: unknown): RecordingImportError {
  try {
    importChromeRecording(body);
  } catch (error) {
    if (error instanceof RecordingImportError) return error;
    throw error;
  }
  throw new Error("expected a RecordingImportError");
}

describe("importChromeRecording: the recording", () => {
  it("takes the title as the name, and the first setViewport as the viewport", () => {
    const result = convert([
      { type: "setViewport", width: 1280, height: 720, deviceScaleFactor: 1, isMobile: false, hasTouch: false },
      navigate,
    ]);
    expect(result.recording).toEqual({
      version: 1,
      name: "Checkout",
      viewport: { width: 1280, height: 720 },
      actions: [{ type: "navigate", url: "https://shop.test/" }],
    });
    expect(result.source).toEqual({
      format: "chrome-recorder",
      title: "Checkout",
      stepCount: 2,
      stepTypes: { setViewport: 1, navigate: 1 },
      dropped: [{ index: 0, type: "setViewport", reason: "viewport" }],
    });
    expect(result.actionSources).toEqual(["steps[1]"]);
    expect(result.warnings).toEqual([]);
  });

  it("makes later viewport changes actions, and says what it does not emulate", () => {
    const result = convert([
      navigate,
      { type: "setViewport", width: 390, height: 844, deviceScaleFactor: 3, isMobile: true, hasTouch: true },
      { type: "setViewport", width: 50, height: 9000 },
    ]);
    expect(result.recording.viewport).toBeUndefined();
    expect(result.recording.actions.slice(1)).toEqual([
      { type: "setViewport", width: 390, height: 844 },
      { type: "setViewport", width: 100, height: 4320 },
    ]);
    expect(result.warnings).toEqual([
      {
        index: 1,
        type: "setViewport",
        path: "steps[1]",
        message: "deviceScaleFactor 3, isMobile, hasTouch not emulated: Conveyor sets the viewport's size only",
      },
      {
        index: 2,
        type: "setViewport",
        path: "steps[2]",
        message: expect.stringMatching(/50×9000 is outside.*100×4320 used/),
      },
    ]);
  });

  it("names an untitled export, with a warning", () => {
    const result = importChromeRecording({ steps: [navigate] });
    expect(result.recording.name).toBe("Chrome DevTools Recorder recording");
    expect(result.warnings).toEqual([{ path: "title", message: expect.stringMatching(/no title/) }]);
  });

  it("gives every action the recording's timeout unless its step has its own", () => {
    const result = convert([navigate, click({ timeout: 8000 }), { type: "close", timeout: 1_000_000 }], {
      timeout: 7000,
    });
    expect(result.recording.actions.map((action) => action.timeoutMs)).toEqual([7000, 8000, 600_000]);
    expect(result.warnings).toEqual([
      { index: 2, type: "close", path: "steps[2]", message: expect.stringMatching(/longer than Conveyor's 600000 ms/) },
    ]);
    expect(importError(recording([navigate], { timeout: 0 })).issues).toEqual([
      { path: "timeout", message: "must be a positive number of milliseconds" },
    ]);
    expect(importError(recording([navigate, click({ timeout: -5 })])).issues).toEqual([
      { path: "steps[1].timeout", message: "must be a positive number of milliseconds" },
    ]);
  });

  it("keeps target pages and frame paths, and a Lighthouse step name as the description", () => {
    const result = convert([
      { ...navigate, stepOptions: { stepName: "Open the shop" } },
      click({ target: "https://shop.test/popup", frame: [0, 2] }),
      { type: "close", target: "https://shop.test/popup" },
      click({ frame: [] }),
    ]);
    expect(result.recording.actions).toEqual([
      { type: "navigate", url: "https://shop.test/", description: "Open the shop" },
      expect.objectContaining({ type: "click", target: "https://shop.test/popup", frame: [0, 2] }),
      { type: "close", target: "https://shop.test/popup" },
      expect.not.objectContaining({ frame: expect.anything() }),
    ]);
    expect(result.recording.actions[0]).not.toHaveProperty("target");
  });

  it("keeps the original, but for values typed into password fields", () => {
    const body = recording([
      navigate,
      { type: "change", value: "ada@shop.test", selectors: [["aria/Email"], ["#email"]] },
      { type: "change", value: "hunter2", selectors: [["aria/Password"], ["[data-test=password]"]] },
    ]);
    const result = importChromeRecording(body);
    expect(result.recording.actions.slice(1)).toEqual([
      { type: "input", selector: expect.any(Array), value: "ada@shop.test" },
      { type: "input", selector: expect.any(Array), value: "hunter2", sensitive: true },
    ]);
    const original = result.original as { steps: Raw[] };
    expect(original.steps[1]?.value).toBe("ada@shop.test");
    expect(original.steps[2]?.value).toBe("[redacted]");
    expect(JSON.stringify(original)).not.toContain("hunter2");
    // The upload itself is left as it was.
    expect((body.steps as Raw[])[2]?.value).toBe("hunter2");
    expect(importChromeRecording(recording([navigate])).original).toEqual(recording([navigate]));
  });
});

describe("importChromeRecording: each step type", () => {
  it("click: offsets, buttons, duration and device", () => {
    const result = convert([
      click(),
      click({ button: "primary", duration: 120.4 }),
      click({ button: "auxiliary" }),
      click({ button: "secondary", offsetX: -3 }),
      click({ deviceType: "touch" }),
      click({ offsetX: undefined, offsetY: undefined }),
    ]);
    const selector = [
      { strategy: "aria", value: "Buy" },
      { strategy: "css", value: "#buy" },
    ];
    expect(result.recording.actions).toEqual([
      { type: "click", selector, position: { x: 10, y: 5 } },
      { type: "click", selector, button: "left", position: { x: 10, y: 5 }, holdMs: 120 },
      { type: "click", selector, button: "middle", position: { x: 10, y: 5 } },
      { type: "click", selector, button: "right" },
      { type: "click", selector, position: { x: 10, y: 5 } },
      { type: "click", selector },
    ]);
    expect(result.warnings.map((warning) => [warning.index, warning.message])).toEqual([
      [3, "the click point (-3, 5) is outside the element; its centre is clicked"],
      [4, "a touch tap: replayed as a mouse click"],
    ]);
  });

  it("click: a back or forward button is skipped with a warning; an unknown one is refused", () => {
    const result = convert([navigate, click({ button: "back" })]);
    expect(result.recording.actions).toHaveLength(1);
    expect(result.source.dropped).toEqual([{ index: 1, type: "click", reason: "unsupported" }]);
    expect(result.warnings[0]?.message).toMatch(/back mouse button can't be replayed/);
    expect(importError(recording([click({ button: "left" })])).issues).toEqual([
      { path: "steps[0].button", message: "expected one of primary, auxiliary, secondary, back, forward" },
    ]);
    expect(importError(recording([click({ deviceType: "stylus" })])).issues[0]?.path).toBe("steps[0].deviceType");
  });

  it("doubleClick is a click with clickCount 2; hover hovers", () => {
    const result = convert([
      { ...click(), type: "doubleClick" },
      { type: "hover", selectors: BUTTON },
    ]);
    expect(result.recording.actions).toEqual([
      expect.objectContaining({ type: "click", clickCount: 2, position: { x: 10, y: 5 } }),
      { type: "hover", selector: expect.arrayContaining([{ strategy: "css", value: "#buy" }]) },
    ]);
  });

  it("change: text fields, selects and contenteditable are inputs; checkboxes and radio buttons are checks", () => {
    const result = convert([
      { type: "change", value: "Ada", selectors: [["#name"]] },
      { type: "change", value: "express", selectors: [["aria/Shipping"], ["select#shipping"]] },
      { type: "change", value: "Hello", selectors: [["div[contenteditable]"]] },
      { type: "change", value: "on", selectors: [["aria/Terms"], ["input[type=checkbox]#terms"]] },
      { type: "change", value: "false", selectors: [["input[type='checkbox']"]] },
      { type: "change", value: "card", selectors: [['aria/Card[role="radio"]'], ["#card"]] },
    ]);
    expect(result.recording.actions).toEqual([
      { type: "input", selector: [{ strategy: "css", value: "#name" }], value: "Ada" },
      { type: "input", selector: expect.any(Array), value: "express" },
      { type: "input", selector: [{ strategy: "css", value: "div[contenteditable]" }], value: "Hello" },
      { type: "check", selector: expect.any(Array), checked: true },
      { type: "check", selector: [{ strategy: "css", value: "input[type='checkbox']" }], checked: false },
      { type: "check", selector: expect.any(Array) },
    ]);
  });

  it("scroll: the page, or an element", () => {
    const result = convert([
      { type: "scroll", x: 0, y: 640 },
      { type: "scroll", selectors: [["#list"]], y: 300, frame: [1] },
      { type: "scroll", x: -5, y: -10 },
    ]);
    expect(result.recording.actions).toEqual([
      { type: "scroll", x: 0, y: 640 },
      { type: "scroll", selector: [{ strategy: "css", value: "#list" }], x: 0, y: 300, frame: [1] },
      { type: "scroll", x: 0, y: 0 },
    ]);
  });

  it("waitForElement: operator, count, properties and attributes as written", () => {
    const result = convert([
      { type: "waitForElement", selectors: [".item"] },
      {
        type: "waitForElement",
        selectors: [".item"],
        operator: "==",
        count: 3,
        visible: true,
        properties: { value: "x", dataset: { state: "done" } },
        attributes: { "aria-busy": "false" },
      },
    ]);
    expect(result.recording.actions).toEqual([
      { type: "waitForElement", selector: [{ strategy: "css", value: ".item" }] },
      {
        type: "waitForElement",
        selector: [{ strategy: "css", value: ".item" }],
        operator: "==",
        count: 3,
        properties: { value: "x", dataset: { state: "done" } },
        attributes: { "aria-busy": "false" },
      },
    ]);
  });

  it("waitForElement: visible false inverts the count test, and is refused where it can't be", () => {
    const result = convert([
      { type: "waitForElement", selectors: [".spinner"], visible: false },
      { type: "waitForElement", selectors: [".toast"], visible: false, operator: "<=", count: 2 },
    ]);
    expect(result.recording.actions).toEqual([
      { type: "waitForElement", selector: [{ strategy: "css", value: ".spinner" }], operator: "<=", count: 0 },
      { type: "waitForElement", selector: [{ strategy: "css", value: ".toast" }], operator: ">=", count: 3 },
    ]);
    for (const refused of [
      { operator: "==", count: 1 },
      { properties: { disabled: true } },
      { attributes: { hidden: "" } },
      { count: 0 },
    ]) {
      const error = importError(
        recording([navigate, { type: "waitForElement", selectors: [".x"], visible: false, ...refused }]),
      );
      expect(error.issues).toEqual([
        { path: "steps[1].visible", message: expect.stringMatching(/no Conveyor equivalent/) },
      ]);
    }
  });

  it("waitForExpression, close and emulateNetworkConditions", () => {
    const result = convert([
      { type: "waitForExpression", expression: "document.title === 'Done'", frame: [0] },
      { type: "emulateNetworkConditions", download: 50_000, upload: 20_000, latency: 400 },
      { type: "emulateNetworkConditions", download: 0, upload: 0, latency: 0 },
      { type: "emulateNetworkConditions", download: -1, upload: -1, latency: 0 },
      { type: "close", target: "main" },
    ]);
    expect(result.recording.actions).toEqual([
      { type: "waitForExpression", expression: "document.title === 'Done'", frame: [0] },
      { type: "emulateNetwork", downloadThroughput: 50_000, uploadThroughput: 20_000, latencyMs: 400 },
      { type: "emulateNetwork", offline: true, downloadThroughput: 0, uploadThroughput: 0, latencyMs: 0 },
      { type: "emulateNetwork", downloadThroughput: -1, uploadThroughput: -1, latencyMs: 0 },
      { type: "close" },
    ]);
    expect(importError(recording([{ type: "waitForExpression", expression: " " }])).issues).toEqual([
      { path: "steps[0].expression", message: "is empty" },
    ]);
  });

  it("customStep is refused, naming the step", () => {
    const error = importError(
      recording([
        navigate,
        click(),
        press("Tab")[0] as Raw,
        { type: "customStep", name: "lighthouse", parameters: {} },
      ]),
    );
    expect(error.issues).toEqual([
      {
        path: "steps[3]",
        message: expect.stringMatching(
          /^customStep "lighthouse": custom steps run code Conveyor does not have .*; remove it or replace it/,
        ),
      },
    ]);
    expect(error.message).toMatch(/^This Chrome DevTools Recorder export can't be imported: steps\[3\]: customStep/);
  });

  it("skips a step outside the schema with a warning naming it", () => {
    const result = convert([navigate, { type: "startTimespan" }, { type: "teleport", to: "mars" }, click()]);
    expect(result.recording.actions.map((action) => action.type)).toEqual(["navigate", "click"]);
    expect(result.warnings).toEqual([
      {
        index: 1,
        type: "startTimespan",
        path: "steps[1]",
        message: expect.stringMatching(/Lighthouse user-flow step.*skipped$/),
      },
      {
        index: 2,
        type: "teleport",
        path: "steps[2]",
        message: expect.stringMatching(/unknown step type "teleport".*skipped$/),
      },
    ]);
    expect(result.source.dropped).toEqual([
      { index: 1, type: "startTimespan", reason: "unknown-type" },
      { index: 2, type: "teleport", reason: "unknown-type" },
    ]);
  });

  it("names every wrong field of known steps", () => {
    const error = importError({
      title: "Broken",
      steps: [
        { type: "navigate" },
        { type: "click", selectors: "#a", offsetX: "1" },
        { type: "change", selectors: [["#a"]], value: 3 },
        "click",
        { type: "keyDown" },
        { type: "waitForElement", selectors: [".a"], operator: ">" },
      ],
    });
    expect(error.issues.map((issue) => issue.path)).toEqual([
      "steps[0].url",
      "steps[1].offsetX",
      "steps[2].value",
      "steps[3]",
      "steps[4].key",
      "steps[5].operator",
    ]);
    expect(error.issues[0]?.message).toBe("is required");
  });

  it("refuses what converts to an invalid action, naming its step", () => {
    const error = importError(recording([navigate, click({ target: "x".repeat(9000) })]));
    expect(error.issues).toEqual([
      { path: "steps[1]", message: expect.stringMatching(/^converts to an invalid action \(target: /) },
    ]);
  });

  it("refuses a recording with nothing to replay", () => {
    expect(importError(recording([])).issues).toEqual([{ path: "steps", message: "the list is empty" }]);
    expect(
      importError(recording([{ type: "setViewport", width: 800, height: 600 }, { type: "snapshot" }])).issues,
    ).toEqual([
      { path: "steps", message: "none of the 2 steps is replayable (setViewport: viewport, snapshot: unknown-type)" },
    ]);
  });
});

describe("importChromeRecording: keys", () => {
  it("pairs keyDown and keyUp into one keypress", () => {
    const result = convert([...press("Enter"), ...press("\n"), ...press(" "), ...press("ArrowDown")]);
    expect(result.recording.actions).toEqual([
      { type: "keypress", key: "Enter" },
      { type: "keypress", key: "Enter" },
      { type: "keypress", key: "Space" },
      { type: "keypress", key: "ArrowDown" },
    ]);
    expect(result.source.dropped.map((drop) => drop.reason)).toEqual(Array(4).fill("key-release"));
  });

  it("gives the modifiers held to the keys pressed meanwhile", () => {
    const result = convert([
      key("keyDown", "Shift"),
      ...press("Tab"),
      key("keyUp", "Shift"),
      key("keyDown", "Control"),
      key("keyDown", "ShiftLeft"),
      key("keyDown", "k"),
      key("keyUp", "ShiftLeft"),
      key("keyUp", "k"),
      key("keyUp", "Control"),
    ]);
    expect(result.recording.actions).toEqual([
      { type: "keypress", key: "Tab", modifiers: ["Shift"] },
      { type: "keypress", key: "k", modifiers: ["Control", "Shift"] },
    ]);
    expect(result.source.dropped).toEqual([
      { index: 0, type: "keyDown", reason: "modifier" },
      { index: 2, type: "keyUp", reason: "key-release" },
      { index: 3, type: "keyUp", reason: "key-release" },
      { index: 4, type: "keyDown", reason: "modifier" },
      { index: 5, type: "keyDown", reason: "modifier" },
      { index: 7, type: "keyUp", reason: "key-release" },
      { index: 8, type: "keyUp", reason: "key-release" },
      { index: 9, type: "keyUp", reason: "key-release" },
    ]);
  });

  it("gives the modifiers held to clicks made meanwhile", () => {
    const result = convert([
      key("keyDown", "Meta"),
      click(),
      { ...click(), type: "doubleClick" },
      key("keyUp", "Meta"),
    ]);
    expect(result.recording.actions).toEqual([
      expect.objectContaining({ type: "click", modifiers: ["Meta"] }),
      expect.objectContaining({ type: "click", clickCount: 2, modifiers: ["Meta"] }),
    ]);
  });

  it("presses a modifier on its own when nothing was pressed while it was held", () => {
    const result = convert([
      ...press("Shift"),
      key("keyDown", "Control"),
      ...press("Alt"),
      key("keyUp", "Control"),
      key("keyDown", "Meta"),
    ]);
    expect(result.recording.actions).toEqual([
      { type: "keypress", key: "Shift" },
      { type: "keypress", key: "Alt", modifiers: ["Control"] },
      { type: "keypress", key: "Meta" },
    ]);
    expect(result.actionSources).toEqual(["steps[0]", "steps[3]", "steps[6]"]);
    expect(result.warnings).toEqual([
      {
        index: 6,
        type: "keyDown",
        path: "steps[6]",
        message: '"Meta" is never released; pressed on its own at the end of the recording',
      },
    ]);
  });

  it("presses a key held down (auto-repeat) each time, and skips a release of a key never pressed", () => {
    const result = convert([
      key("keyDown", "ArrowDown"),
      key("keyDown", "ArrowDown"),
      key("keyUp", "ArrowDown"),
      key("keyUp", "Escape"),
    ]);
    expect(result.recording.actions).toEqual([
      { type: "keypress", key: "ArrowDown" },
      { type: "keypress", key: "ArrowDown" },
    ]);
    expect(result.warnings).toEqual([
      {
        index: 3,
        type: "keyUp",
        path: "steps[3]",
        message: 'releases "Escape", which no keyDown before it pressed; skipped',
      },
    ]);
  });
});

describe("importChromeRecording: asserted events", () => {
  it("checks the URL and title of an asserted navigation after its step", () => {
    const result = convert([
      {
        ...navigate,
        timeout: 9000,
        assertedEvents: [{ type: "navigation", url: "https://shop.test/", title: "Shop" }],
      },
      click({
        target: "https://shop.test/popup",
        assertedEvents: [{ type: "navigation", url: "https://shop.test/cart?session=abc#top", title: "" }],
      }),
      {
        ...key("keyDown", "Enter"),
        assertedEvents: [{ type: "navigation", title: "Results" }, { type: "dialog" }],
      },
      key("keyUp", "Enter"),
    ]);
    expect(result.recording.actions).toEqual([
      { type: "navigate", url: "https://shop.test/", timeoutMs: 9000 },
      { type: "assert", check: "urlMatch", expected: "https://shop.test/", timeoutMs: 9000 },
      { type: "assert", check: "pageTitle", expected: "Shop", timeoutMs: 9000 },
      expect.objectContaining({ type: "click" }),
      { type: "assert", check: "urlContains", expected: "https://shop.test/cart", target: "https://shop.test/popup" },
      { type: "keypress", key: "Enter" },
      { type: "assert", check: "pageTitle", expected: "Results" },
    ]);
    expect(result.actionSources).toEqual([
      "steps[0]",
      "steps[0]",
      "steps[0]",
      "steps[1]",
      "steps[1]",
      "steps[2]",
      "steps[2]",
    ]);
    expect(result.warnings).toEqual([
      { index: 2, type: "keyDown", path: "steps[2]", message: expect.stringMatching(/asserted event type "dialog"/) },
    ]);
  });

  it("does not check a navigation inside a frame against the page", () => {
    const result = convert([
      click({ frame: [0], assertedEvents: [{ type: "navigation", url: "https://frame.test/", title: "Frame" }] }),
    ]);
    expect(result.recording.actions.map((action) => action.type)).toEqual(["click"]);
    expect(result.warnings[0]?.message).toMatch(/navigation inside a frame.*not checked/);
  });
});

describe("importChromeRecording: selectors", () => {
  it("keeps every alternative as a candidate, in order, each by its kind", () => {
    const result = convert([
      {
        type: "click",
        offsetX: 1,
        offsetY: 1,
        selectors: [
          ['aria/Add to cart[role="button"]'],
          "#add",
          ["text/Add to cart"],
          ['xpath///*[@id="add"]'],
          ["pierce/#add"],
          ["aria/Product card", 'aria/[role="generic"]'],
          ["my-app", "product-card", "button.add"],
        ],
      },
    ]);
    expect(result.recording.actions[0]).toMatchObject({
      selector: [
        { strategy: "aria", value: 'Add to cart[role="button"]' },
        { strategy: "css", value: "#add" },
        { strategy: "text-contains", value: "Add to cart" },
        { strategy: "xpath", value: '//*[@id="add"]' },
        { strategy: "pierce", value: "#add" },
        { strategy: "aria", value: '[role="generic"]', within: [{ strategy: "aria", value: "Product card" }] },
        {
          strategy: "css",
          value: "button.add",
          within: [
            { strategy: "css", value: "my-app" },
            { strategy: "css", value: "product-card" },
          ],
        },
      ],
    });
  });

  it("reads a lone selector string as one alternative", () => {
    const result = convert([{ type: "hover", selectors: "#menu" }]);
    expect(result.recording.actions[0]).toEqual({ type: "hover", selector: [{ strategy: "css", value: "#menu" }] });
  });

  it("leaves out empty alternatives with a warning, and refuses a step with none left", () => {
    const result = convert([{ type: "hover", selectors: [[], ["aria/"], ["#menu"]] }]);
    expect(result.recording.actions[0]).toEqual({ type: "hover", selector: [{ strategy: "css", value: "#menu" }] });
    expect(result.warnings.map((warning) => warning.message)).toEqual([
      "selector 1 is an empty chain; left out",
      'selector 2 "aria/": empty; left out',
    ]);
    expect(importError(recording([{ type: "hover", selectors: [[""]] }])).issues).toEqual([
      { path: "steps[0].selectors", message: "no usable selector: every one is empty or too long" },
    ]);
    expect(importError(recording([{ type: "hover", selectors: [] }])).issues).toEqual([
      { path: "steps[0].selectors", message: "is empty" },
    ]);
    expect(importError(recording([{ type: "hover" }])).issues).toEqual([
      { path: "steps[0].selectors", message: "is required" },
    ]);
  });

  it("with selectorAttribute data-testid, reads its attribute selectors as test ids", () => {
    const steps = [
      {
        type: "click",
        selectors: [['[data-testid="buy-now"]'], ["[data-testid=cart]"], ['[data-test="x"]'], ["#buy"]],
      },
    ];
    expect(convert(steps, { selectorAttribute: "data-testid" }).recording.actions[0]).toMatchObject({
      selector: [
        { strategy: "testid", value: "buy-now" },
        { strategy: "testid", value: "cart" },
        { strategy: "css", value: '[data-test="x"]' },
        { strategy: "css", value: "#buy" },
      ],
    });
    // Another attribute: its selectors are CSS already.
    expect(convert(steps, { selectorAttribute: "data-qa" }).recording.actions[0]).toMatchObject({
      selector: [{ strategy: "css", value: '[data-testid="buy-now"]' }, {}, {}, {}],
    });
  });
});

describe("importChromeRecording: the browser's own pages", () => {
  it("skips a navigation to one, and its checks, with a warning", () => {
    const result = convert([
      {
        type: "navigate",
        url: "chrome://new-tab-page/",
        assertedEvents: [{ type: "navigation", url: "chrome://new-tab-page/", title: "New Tab" }],
      },
      navigate,
    ]);
    expect(result.recording.actions).toEqual([{ type: "navigate", url: "https://shop.test/" }]);
    expect(result.source.dropped).toEqual([{ index: 0, type: "navigate", reason: "unsupported" }]);
    expect(result.warnings).toEqual([
      {
        index: 0,
        type: "navigate",
        path: "steps[0]",
        message: "chrome://new-tab-page/ is the browser's own page, not a site; skipped",
      },
    ]);
  });
});
