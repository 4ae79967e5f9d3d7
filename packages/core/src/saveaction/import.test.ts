// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recordings spell variables as ${NAME}
import { describe, expect, it } from "vitest";
import { RecordingImportError } from "./errors.ts";
import { importSaveAction } from "./import.ts";

type Raw = Record<string, unknown>;

const EMAIL_SELECTOR = {
  id: "email",
  css: "form > input#email",
  xpathAbsolute: "/html/body/form/input[1]",
  priority: ["id", "css", "xpathAbsolute"],
};
const BOX_SELECTOR = {
  id: "terms",
  css: "form > input[type=checkbox]",
  xpathAbsolute: "/html/body/form/input[2]",
  priority: ["id", "css"],
};
const BUTTON_SELECTOR = { css: "form > button", text: "Sign in", priority: ["css", "text"] };
const NAME_SELECTOR = { id: "name", css: "form > input#name", priority: ["id", "css"] };
const PIN_SELECTOR = { id: "pin", css: "form > input#pin", priority: ["id", "css"] };

let sequence = 0;
const click = (fields: Raw = {}): Raw => ({
  id: `act_${String(++sequence).padStart(3, "0")}`,
  type: "click",
  timestamp: 1000 * sequence,
  url: "https://shop.test/login",
  selector: BUTTON_SELECTOR,
  tagName: "button",
  coordinates: { x: 10, y: 5 },
  coordinatesRelativeTo: "element",
  button: "left",
  clickCount: 1,
  modifiers: [],
  ...fields,
});
const action = (type: string, fields: Raw = {}): Raw => ({
  id: `act_${String(++sequence).padStart(3, "0")}`,
  type,
  timestamp: 1000 * sequence,
  url: "https://shop.test/login",
  ...fields,
});
const input = (fields: Raw = {}): Raw =>
  action("input", {
    selector: EMAIL_SELECTOR,
    tagName: "input",
    value: "ada@shop.test",
    inputType: "email",
    isSensitive: false,
    simulationType: "type",
    typingDelay: 40,
    ...fields,
  });

function recording(actions: Raw[], fields: Raw = {}): Raw {
  return {
    id: "rec_1",
    version: "1.0.0",
    testName: "Sign in",
    url: "https://shop.test/login",
    startTime: "2026-01-01T00:00:00.000Z",
    viewport: { width: 1280, height: 720 },
    userAgent: "test",
    actions,
    ...fields,
  };
}

describe("importSaveAction: the recording", () => {
  it("maps name, start URL, viewport, ids and version", () => {
    const result = importSaveAction(recording([click({ id: "act_001" })]));
    expect(result.recording).toMatchObject({
      version: 1,
      name: "Sign in",
      startUrl: "https://shop.test/login",
      viewport: { width: 1280, height: 720 },
    });
    expect(result.recording.actions[0]?.id).toBe("act_001");
    expect(result.source).toMatchObject({ format: "saveaction", version: "1.0.0", actionCount: 1 });
  });

  it("computes delayBeforeMs from the previous action's end, whatever the timestamps' origin", () => {
    for (const origin of [0, 1_763_917_644_429]) {
      const result = importSaveAction(
        recording([
          click({ timestamp: origin + 500, completedAt: origin + 550 }),
          input({ timestamp: origin + 1800, completedAt: origin + 2500 }),
          // The recorder's completedAt estimate can overlap the next action: never negative.
          click({ timestamp: origin + 2400 }),
          click({ timestamp: origin + 4000, selector: EMAIL_SELECTOR }),
        ]),
      );
      expect(result.recording.actions.map((a) => a.delayBeforeMs)).toEqual([undefined, 1250, 0, 1600]);
    }
  });

  it("declares variables, sensitive when a password or typed into a sensitive field", () => {
    const result = importSaveAction(
      recording(
        [
          input({ variableName: "EMAIL" }),
          input({ selector: BOX_SELECTOR, inputType: "text", value: "s3cret", isSensitive: true, variableName: "PIN" }),
        ],
        {
          variables: [
            { name: "EMAIL", fieldType: "email", selector: "#email", placeholder: "${EMAIL}" },
            { name: "PASSWORD", fieldType: "password", selector: "#password", placeholder: "${PASSWORD}" },
          ],
        },
      ),
    );
    expect(result.recording.variables).toEqual([
      { name: "EMAIL" },
      { name: "PASSWORD", sensitive: true },
      { name: "PIN", sensitive: true },
    ]);
  });
});

describe("importSaveAction: selectors", () => {
  it("tries data-testid first and otherwise follows the recorder's priority", () => {
    const result = importSaveAction(
      recording([
        click({
          selector: { css: "button.primary", dataTestId: "sign-in", id: "go", priority: ["css", "id", "dataTestId"] },
        }),
      ]),
    );
    expect(result.recording.actions[0]).toMatchObject({
      selector: [
        { strategy: "testid", value: "sign-in", confidence: 95 },
        { strategy: "css", value: "button.primary", confidence: 60 },
        { strategy: "id", value: "go", confidence: 90 },
      ],
    });
  });

  it("keeps frameSelector as the action's frame", () => {
    const result = importSaveAction(recording([click({ frameSelector: "iframe#checkout", frameId: "f1" })]));
    expect(result.recording.actions[0]?.frame).toBe("iframe#checkout");
  });

  it("warns about selector strategies it can't use", () => {
    const result = importSaveAction(
      recording([click({ selectors: [{ strategy: "visual-hash", value: "x", priority: 1, confidence: 99 }] })]),
    );
    expect(result.warnings).toEqual([
      expect.objectContaining({ index: 0, type: "click", message: expect.stringContaining('"visual-hash"') }),
    ]);
  });
});

describe("importSaveAction: clicks", () => {
  it("maps button, count, modifiers and an element-relative position", () => {
    const result = importSaveAction(
      recording([
        click({
          button: "right",
          clickCount: 2,
          modifiers: ["ctrl", "shift", "alt", "meta"],
          coordinates: { x: 3, y: 4 },
        }),
        click({ coordinatesRelativeTo: "viewport", coordinates: { x: 300, y: 400 }, timestamp: 90_000 }),
        click({ coordinates: { x: 3, y: -0.6 }, timestamp: 95_000 }),
      ]),
    );
    const [first, second, third] = result.recording.actions;
    expect(first).toMatchObject({
      type: "click",
      button: "right",
      clickCount: 2,
      modifiers: ["Control", "Shift", "Alt", "Meta"],
      position: { x: 3, y: 4 },
    });
    expect(second).not.toHaveProperty("position");
    // A point outside the element (the recorder reports some) would click something else.
    expect(third).not.toHaveProperty("position");
  });

  it("drops the second capture of one physical click, but not a real second click", () => {
    const result = importSaveAction(
      recording([
        click({ timestamp: 1000 }),
        action("hover", { timestamp: 1040, selector: BUTTON_SELECTOR, duration: 300 }),
        click({ timestamp: 1080 }),
        click({ timestamp: 2000 }),
        click({ timestamp: 2050, selector: EMAIL_SELECTOR }),
      ]),
    );
    expect(result.recording.actions.map((a) => a.type)).toEqual(["click", "hover", "click", "click"]);
    expect(result.source.duplicateClicks).toBe(1);
    expect(result.source.dropped).toEqual([
      { index: 2, actionId: expect.any(String), type: "click", reason: "duplicate-click" },
    ]);
  });

  it("keeps a click on a checkbox a click (it toggles) and drops the input event it fired", () => {
    const result = importSaveAction(
      recording([
        click({ selector: BOX_SELECTOR, tagName: "input", inputType: "checkbox", checked: false, timestamp: 5000 }),
        input({ selector: BOX_SELECTOR, inputType: "checkbox", value: "on", timestamp: 5003 }),
      ]),
    );
    expect(result.recording.actions.map((a) => a.type)).toEqual(["click"]);
    expect(result.source.toggleSideEffects).toBe(1);
  });
});

describe("importSaveAction: inputs", () => {
  it("maps value, sensitivity, mode and typing delay", () => {
    const result = importSaveAction(
      recording([
        input({ typingDelay: 5000 }),
        input({ selector: NAME_SELECTOR, simulationType: "setValue", value: "x", timestamp: 60_000 }),
        input({ selector: PIN_SELECTOR, value: "hunter2", isSensitive: true, timestamp: 70_000 }),
      ]),
    );
    expect(result.recording.actions).toMatchObject([
      { type: "input", value: "ada@shop.test", mode: "type", typingDelayMs: 1000 },
      { type: "input", value: "x", mode: "fill" },
      { type: "input", value: "hunter2", sensitive: true },
    ]);
    expect(result.recording.actions[1]).not.toHaveProperty("typingDelayMs");
  });

  it("replaces the value of a variable's input with ${NAME}, leaving no trace of the literal", () => {
    const result = importSaveAction(
      recording([input({ value: "correct-horse-battery", isSensitive: true, variableName: "PASSWORD" })], {
        variables: [{ name: "PASSWORD", fieldType: "password", placeholder: "${PASSWORD}" }],
      }),
    );
    expect(result.recording.actions[0]).toMatchObject({ type: "input", value: "${PASSWORD}", sensitive: true });
    expect(JSON.stringify(result)).not.toContain("correct-horse-battery");
  });

  it("turns a checkbox or radio input with no click beside it into check", () => {
    const result = importSaveAction(
      recording([
        input({ selector: BOX_SELECTOR, inputType: "checkbox", value: "on", timestamp: 1000 }),
        input({ selector: BOX_SELECTOR, inputType: "checkbox", value: "false", timestamp: 9000 }),
        input({ selector: BOX_SELECTOR, inputType: "checkbox", value: "on", checked: false, timestamp: 19_000 }),
        input({ selector: EMAIL_SELECTOR, inputType: "radio", value: "express", timestamp: 29_000 }),
      ]),
    );
    expect(result.recording.actions).toMatchObject([
      { type: "check", checked: true },
      { type: "check", checked: false },
      { type: "check", checked: false },
      { type: "check", checked: true },
    ]);
  });

  it("replays a run of inputs on one field once: the first's place and id, the last's value", () => {
    const result = importSaveAction(
      recording([
        click({ selector: EMAIL_SELECTOR, timestamp: 1000, completedAt: 1050 }),
        input({ id: "act_a", value: "ada", timestamp: 1800, completedAt: 1900, typingDelay: 30 }),
        input({ id: "act_b", value: "ada@sh", timestamp: 3900, completedAt: 4000 }),
        input({ id: "act_c", value: "ada@shop.test", timestamp: 5500, completedAt: 5600, typingDelay: 80 }),
        click({ timestamp: 7600 }),
      ]),
    );
    expect(result.recording.actions).toEqual([
      expect.objectContaining({ type: "click" }),
      {
        type: "input",
        id: "act_a",
        selector: expect.any(Array),
        value: "ada@shop.test",
        mode: "type",
        typingDelayMs: 80,
        delayBeforeMs: 750,
      },
      // Timed from the end of the run's last input.
      expect.objectContaining({ type: "click", delayBeforeMs: 2000 }),
    ]);
    expect(result.source.mergedInputs).toBe(2);
    expect(result.source.dropped).toEqual([
      { index: 2, actionId: "act_b", type: "input", reason: "merged-input" },
      { index: 3, actionId: "act_c", type: "input", reason: "merged-input" },
    ]);
    expect(result.warnings).toEqual([]);
  });

  it("keeps inputs apart when anything happens between them, or the field or frame differs", () => {
    const types = (actions: Raw[]): string[] =>
      importSaveAction(recording(actions)).recording.actions.map((a) => a.type);
    expect(types([input({ value: "a" }), click({ selector: BUTTON_SELECTOR }), input({ value: "ab" })])).toEqual([
      "input",
      "click",
      "input",
    ]);
    // A hover or scroll is something else too, and so is a step the import drops.
    expect(
      types([input({ value: "a" }), action("hover", { selector: BUTTON_SELECTOR }), input({ value: "ab" })]),
    ).toEqual(["input", "hover", "input"]);
    expect(types([input({ value: "a" }), action("teleport"), input({ value: "ab" })])).toEqual(["input", "input"]);
    expect(
      types([input({ value: "a" }), input({ selector: NAME_SELECTOR, value: "Ada" }), input({ value: "ab" })]),
    ).toEqual(["input", "input", "input"]);
    expect(types([input({ value: "a" }), input({ value: "ab", frameSelector: "iframe#pay" })])).toEqual([
      "input",
      "input",
    ]);
    const merged = importSaveAction(recording([input({ value: "a" }), input({ value: "ab" })]));
    expect(merged.recording.actions).toMatchObject([{ type: "input", value: "ab" }]);
  });

  it("marks a merged input sensitive, and bound to its variable, when any part of the run was", () => {
    const sensitive = importSaveAction(
      recording([input({ value: "hun", isSensitive: false }), input({ value: "hunter2", isSensitive: true })]),
    );
    expect(sensitive.recording.actions).toMatchObject([{ type: "input", value: "hunter2", sensitive: true }]);
    const later = importSaveAction(
      recording([input({ value: "hun", isSensitive: true }), input({ value: "hunter2", isSensitive: false })]),
    );
    expect(later.recording.actions).toMatchObject([{ type: "input", value: "hunter2", sensitive: true }]);

    // Only the first pause was bound to the variable: neither literal survives, and the
    // variable is sensitive because a part of its run was.
    const bound = importSaveAction(
      recording([
        input({ value: "correct-h", variableName: "PASSWORD" }),
        input({ value: "correct-horse", isSensitive: true }),
      ]),
    );
    expect(bound.recording.actions).toMatchObject([{ type: "input", value: "${PASSWORD}", sensitive: true }]);
    expect(bound.recording.variables).toEqual([{ name: "PASSWORD", sensitive: true }]);
    expect(JSON.stringify(bound)).not.toContain("correct-h");

    // A masked value is reported once per run.
    const masked = importSaveAction(
      recording([input({ value: "***", isSensitive: true }), input({ value: "*******", isSensitive: true })]),
    );
    expect(masked.warnings).toEqual([expect.objectContaining({ index: 0, message: expect.stringMatching(/masked/) })]);
  });

  it("drops file uploads with a warning", () => {
    const result = importSaveAction(recording([click(), input({ inputType: "file", value: "C:\\fakepath\\a.png" })]));
    expect(result.recording.actions.map((a) => a.type)).toEqual(["click"]);
    expect(result.warnings[0]?.message).toMatch(/file uploads/);
  });
});

describe("importSaveAction: navigation", () => {
  const nav = (trigger: string, to: string, fields: Raw = {}): Raw =>
    action("navigation", {
      from: "https://shop.test/login",
      to,
      navigationTrigger: trigger,
      waitUntil: "load",
      ...fields,
    });

  it("keeps manual, back and forward navigations and drops those the previous action caused", () => {
    const result = importSaveAction(
      recording([
        click(),
        nav("form-submit", "https://shop.test/account"),
        nav("manual", "https://shop.test/orders"),
        click({ selector: EMAIL_SELECTOR }),
        nav("click", "https://shop.test/orders/1"),
        nav("redirect", "https://shop.test/orders/1/"),
        action("scroll", { scrollX: 0, scrollY: 300, element: "window" }),
        nav("back", "https://shop.test/orders"),
        nav("forward", "https://shop.test/orders/1/"),
      ]),
    );
    expect(result.recording.actions).toMatchObject([
      { type: "click" },
      { type: "navigate", url: "https://shop.test/orders", waitUntil: "load" },
      { type: "click" },
      { type: "scroll", y: 300 },
      { type: "navigate", url: "https://shop.test/orders" },
      { type: "navigate", url: "https://shop.test/orders/1/" },
    ]);
    expect(result.source.implicitNavigations).toBe(3);
    expect(result.warnings).toEqual([]);
  });

  it("treats a 'back' right after a link click as that click's navigation", () => {
    const result = importSaveAction(
      recording([
        click({ tagName: "a", selector: { css: "nav > a", text: "Orders", priority: ["css"] } }),
        nav("back", "https://shop.test/orders"),
      ]),
    );
    expect(result.recording.actions.map((a) => a.type)).toEqual(["click"]);
  });

  describe("a 'back' after a click inside a link or a submit button", () => {
    const IMG_IN_LINK = {
      css: "ul#listings > li > div.card > a.card-link > img",
      xpathAbsolute: "/html/body[1]/section[1]/ul[1]/li[2]/div[1]/a[1]/img[1]",
      position: { index: 0, parent: "a.card-link" },
      priority: ["css", "xpathAbsolute"],
    };
    const SPAN_IN_SUBMIT = {
      css: "div.header > form#search > button#go > span",
      id: "go-text",
      xpathAbsolute: "/html/body[1]/header[1]/form[1]/button[1]/span[1]",
      priority: ["id", "css"],
    };
    // As older recorders write it: only the parent says it is inside a link.
    const IMG_IN_LINK_PARENT_ONLY = {
      xpath: "//img[1]",
      position: { index: 0, parent: "a.hero" },
      priority: ["xpath"],
    };
    const SPAN_IN_PLAIN_BUTTON = {
      css: "div.toolbar > button.menu > span",
      xpathAbsolute: "/html/body[1]/div[1]/button[1]/span[1]",
      priority: ["css"],
    };
    const SPAN_IN_LABEL = {
      css: "form#search > label.option > span",
      xpathAbsolute: "/html/body[1]/form[1]/label[1]/span[1]",
      priority: ["css"],
    };
    const replayed = (actions: Raw[]): string[] =>
      importSaveAction(recording(actions)).recording.actions.map((a) => a.type);

    it("is that click's navigation, within 2 s", () => {
      const at = (selector: Raw, tagName: string, extra: Raw[] = []): string[] =>
        replayed([
          click({ selector, tagName, timestamp: 10_000 }),
          ...extra,
          nav("back", "https://shop.test/orders/7", { timestamp: 11_200 }),
        ]);
      expect(at(IMG_IN_LINK, "img")).toEqual(["click"]);
      expect(at(IMG_IN_LINK_PARENT_ONLY, "img")).toEqual(["click"]);
      const submit = action("submit", { timestamp: 10_002, selector: { css: "form#search", priority: ["css"] } });
      expect(at(SPAN_IN_SUBMIT, "span", [submit])).toEqual(["click"]);
      expect(at(SPAN_IN_SUBMIT, "span")).toEqual(["click"]);
      // A button outside any form submits nothing, unless a submit event says it did.
      expect(at(SPAN_IN_PLAIN_BUTTON, "span")).toEqual(["click", "navigate"]);
      expect(at(SPAN_IN_PLAIN_BUTTON, "span", [submit])).toEqual(["click"]);
      expect(at(SPAN_IN_LABEL, "span")).toEqual(["click", "navigate"]);
      expect(at(BUTTON_SELECTOR, "input")).toEqual(["click", "navigate"]);
      expect(
        replayed([
          click({ selector: BUTTON_SELECTOR, tagName: "input", inputType: "submit", timestamp: 10_000 }),
          nav("back", "https://shop.test/orders", { timestamp: 10_500 }),
        ]),
      ).toEqual(["click"]);
    });

    it("is the user's own Back when it comes later, or leaves another page", () => {
      expect(
        replayed([
          click({ selector: IMG_IN_LINK, tagName: "img", timestamp: 10_000 }),
          action("scroll", { scrollX: 0, scrollY: 300, element: "window", timestamp: 12_000 }),
          nav("back", "https://shop.test/orders", { timestamp: 15_000 }),
        ]),
      ).toEqual(["click", "scroll", "navigate"]);
      expect(
        replayed([
          click({ tagName: "a", selector: { css: "nav > a", priority: ["css"] }, timestamp: 10_000 }),
          nav("back", "https://shop.test/orders", { timestamp: 15_000 }),
        ]),
      ).toEqual(["click", "navigate"]);
      expect(
        replayed([
          click({ selector: IMG_IN_LINK, tagName: "img", timestamp: 10_000 }),
          nav("back", "https://shop.test/orders", { timestamp: 10_400, from: "https://shop.test/elsewhere" }),
        ]),
      ).toEqual(["click", "navigate"]);
      // Anything the user did in between is not a hover or a scroll: the click is not the cause.
      expect(
        replayed([
          click({ selector: IMG_IN_LINK, tagName: "img", timestamp: 10_000 }),
          input({ timestamp: 10_200 }),
          nav("back", "https://shop.test/orders", { timestamp: 10_400 }),
        ]),
      ).toEqual(["click", "input", "navigate"]);
    });

    it("is the clicked link's navigation up to 10 s later when it goes to the link's own address", () => {
      const link = (timestamp: number): Raw =>
        click({
          tagName: "a",
          selector: { css: "nav > a", priority: ["css"] },
          selectors: [{ strategy: "href-pattern", value: "/orders/", priority: 5, confidence: 82 }],
          timestamp,
        });
      expect(replayed([link(10_000), nav("back", "https://shop.test/orders/#top", { timestamp: 13_500 })])).toEqual([
        "click",
      ]);
      expect(replayed([link(10_000), nav("back", "https://shop.test/orders/", { timestamp: 21_000 })])).toEqual([
        "click",
        "navigate",
      ]);
      expect(replayed([link(10_000), nav("back", "https://shop.test/account", { timestamp: 13_500 })])).toEqual([
        "click",
        "navigate",
      ]);
    });

    it("after Enter submitted a form is that submission's navigation", () => {
      expect(
        replayed([
          action("keypress", { key: "Enter", code: "Enter", timestamp: 10_000 }),
          action("submit", { timestamp: 10_020, selector: { css: "form", priority: ["css"] } }),
          nav("back", "https://shop.test/search?q=x", { timestamp: 10_900 }),
        ]),
      ).toEqual(["keypress"]);
    });
  });

  it("leaves a first navigation to the start URL to startUrl, and replays one elsewhere", () => {
    const same = importSaveAction(recording([nav("manual", "https://shop.test/login"), click()]));
    expect(same.recording.actions.map((a) => a.type)).toEqual(["click"]);
    expect(same.recording.startUrl).toBe("https://shop.test/login");

    // Nothing replayed before it could have caused it, whatever the trigger says.
    const elsewhere = importSaveAction(recording([nav("click", "https://shop.test/sale"), click()]));
    expect(elsewhere.recording.actions).toMatchObject([
      { type: "navigate", url: "https://shop.test/sale" },
      { type: "click" },
    ]);
  });
});

describe("importSaveAction: other actions", () => {
  it("maps select, hover, scroll, keypress and a lone submit", () => {
    const result = importSaveAction(
      recording([
        action("select", {
          selector: EMAIL_SELECTOR,
          selectedValue: "uk",
          selectedText: "United Kingdom",
          selectedIndex: 3,
        }),
        action("hover", { selector: BUTTON_SELECTOR, duration: 90_000 }),
        action("scroll", { scrollX: -5, scrollY: 200, element: { css: "div.list", priority: ["css"] } }),
        action("keypress", { key: "k", code: "KeyK", modifiers: ["meta"] }),
        action("submit", { selector: { css: "form#login", priority: ["css"] } }),
      ]),
    );
    expect(result.recording.actions).toMatchObject([
      { type: "select", value: "uk", label: "United Kingdom", index: 3 },
      { type: "hover", durationMs: 60_000 },
      { type: "scroll", x: 0, y: 200, selector: [{ strategy: "css", value: "div.list" }] },
      { type: "keypress", key: "k", modifiers: ["Meta"] },
      { type: "submit", selector: [{ strategy: "css", value: "form#login" }] },
    ]);
  });

  it("drops a submit the click or Enter just before already caused", () => {
    const result = importSaveAction(
      recording([
        click({ timestamp: 1000 }),
        action("submit", { timestamp: 1100, selector: { css: "form", priority: ["css"] } }),
        action("keypress", { timestamp: 5000, key: "Enter", code: "Enter", modifiers: [] }),
        action("submit", { timestamp: 5050, selector: { css: "form", priority: ["css"] } }),
      ]),
    );
    expect(result.recording.actions.map((a) => a.type)).toEqual(["click", "keypress"]);
    expect(result.source.implicitSubmits).toBe(2);
  });

  it("folds a burst of modal events into one optional wait, omitting bare tag selectors", () => {
    const modal = (event: string, modalSelector: string, timestamp: number): Raw =>
      action("modal-lifecycle", { event, modalSelector, modalId: "m", timestamp });
    const result = importSaveAction(
      recording([
        click(),
        modal("modal-opened", "div", 3000),
        modal("modal-opened", "span", 3001),
        modal("modal-closed", "div", 3001),
        click({ selector: EMAIL_SELECTOR, timestamp: 4000 }),
        modal("modal-closed", "div.swal2-popup", 4500),
      ]),
    );
    expect(result.recording.actions).toMatchObject([
      { type: "click" },
      { type: "modal", state: "open", optional: true },
      { type: "click" },
      { type: "modal", state: "closed", selector: "div.swal2-popup" },
    ]);
    expect(result.recording.actions[1]).not.toHaveProperty("selector");
  });

  it("maps checkpoints to asserts", () => {
    const checkpoint = (fields: Raw): Raw => action("checkpoint", { passed: true, ...fields });
    const result = importSaveAction(
      recording([
        checkpoint({ checkType: "urlMatch", expectedUrl: "/account/" }),
        checkpoint({ checkType: "urlMatch", expectedUrl: "https://shop.test/account" }),
        checkpoint({ checkType: "urlContains", expectedUrl: "/orders" }),
        checkpoint({ checkType: "elementVisible", selector: BUTTON_SELECTOR }),
        checkpoint({ checkType: "elementText", selector: BUTTON_SELECTOR, expectedValue: "Sign in" }),
        checkpoint({ checkType: "pageLoad" }),
      ]),
    );
    expect(result.recording.actions).toMatchObject([
      { type: "assert", check: "urlContains", expected: "/account/" },
      { type: "assert", check: "urlMatch", expected: "https://shop.test/account" },
      { type: "assert", check: "urlContains", expected: "/orders" },
      {
        type: "assert",
        check: "elementVisible",
        selector: [{ strategy: "css", value: "form > button" }, { strategy: "text" }],
      },
      { type: "assert", check: "elementText", expected: "Sign in" },
      { type: "assert", check: "pageLoad" },
    ]);
  });

  it("drops unknown action types with a warning, never silently", () => {
    const result = importSaveAction(
      recording([click(), action("teleport", { to: "mars" }), click({ timestamp: 99_000 })]),
    );
    expect(result.recording.actions).toHaveLength(2);
    expect(result.warnings).toEqual([
      {
        index: 1,
        actionId: expect.any(String),
        type: "teleport",
        message: expect.stringContaining('unknown action type "teleport"'),
      },
    ]);
    expect(result.source.dropped).toEqual([expect.objectContaining({ index: 1, reason: "unknown-type" })]);
  });

  it("answers browser dialogs the way the recording did", () => {
    const result = importSaveAction(
      recording([click(), action("dialog", { dialogType: "confirm", message: "Sure?", response: "dismiss" })]),
    );
    expect(result.recording.dialogs).toBe("dismiss");
    expect(result.recording.actions).toHaveLength(1);
  });
});

describe("importSaveAction: invalid input", () => {
  const issuesOf = (input: unknown): RecordingImportError => {
    try {
      importSaveAction(input);
    } catch (error) {
      if (error instanceof RecordingImportError) return error;
      throw error;
    }
    throw new Error("expected a RecordingImportError");
  };

  it("names the path of a wrongly typed field", () => {
    const error = issuesOf(recording([click(), click(), click(), click({ selector: "#go" })]));
    expect(error.issues).toEqual([{ path: "actions[3].selector", message: "expected an object, got a string" }]);
    expect(error.message).toContain("actions[3].selector: expected an object, got a string");
  });

  it("reports every bad action, not just the first", () => {
    const error = issuesOf(recording([input({ value: 42 }), action("navigation", {}), { type: 7 }]));
    expect(error.issues).toEqual([
      { path: "actions[0].value", message: "expected a string, got a number" },
      { path: "actions[1].to", message: "is required" },
      { path: "actions[2].type", message: "expected a string, got a number" },
    ]);
  });

  it("names the action whose selector yields no candidate", () => {
    const error = issuesOf(
      recording([click(), click({ selector: { css: "", text: "  ", priority: ["css", "text"] } })]),
    );
    expect(error.issues).toEqual([
      { path: "actions[1].selector", message: expect.stringContaining("no usable selector") },
    ]);
    expect(issuesOf(recording([click({ selector: undefined })])).issues[0]?.path).toBe("actions[0].selector");
  });

  it("rejects a body without actions, and one with nothing replayable", () => {
    expect(issuesOf({ testName: "x" }).issues).toEqual([{ path: "actions", message: "is required" }]);
    expect(issuesOf(recording([action("teleport")])).issues[0]?.path).toBe("actions");
  });
});
