// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recordings spell variables as ${NAME}
import { describe, expect, it } from "vitest";
import { type RecordingInput, recordingSchema } from "../recording.ts";
import { exportChromeRecorder } from "./chrome-recorder.ts";

const recording = (input: Partial<RecordingInput>) => recordingSchema.parse({ name: "flow", ...input });

describe("exportChromeRecorder", () => {
  it("writes a Recorder flow: title, viewport, start page, steps with selectors, frames and targets", () => {
    const { flow, content, warnings } = exportChromeRecorder(
      recording({
        name: "Checkout",
        startUrl: "https://shop.test/",
        viewport: { width: 1280, height: 720 },
        actions: [
          {
            type: "click",
            selector: [
              { strategy: "aria", value: 'Buy[role="button"]' },
              { strategy: "testid", value: "buy" },
              { strategy: "id", value: "a:b" },
              { strategy: "text", value: "Buy now" },
              { strategy: "xpath", value: "//button" },
              { strategy: "pierce", value: "#buy" },
              { strategy: "role", value: "button" },
              { strategy: "href", value: "/buy" },
              { strategy: "css", value: "button.buy", within: [{ strategy: "css", value: "my-app" }] },
            ],
            position: { x: 5, y: 6 },
            button: "middle",
            holdMs: 80,
            frame: [0, 2],
            target: "https://shop.test/popup",
            timeoutMs: 4000,
          },
          { type: "input", selector: "#q", value: "shoes" },
          { type: "hover", selector: "#menu" },
          { type: "scroll", selector: "#box", x: 0, y: 200 },
          { type: "scroll", y: 900 },
          { type: "waitForElement", selector: ".item", count: 2, visible: true, attributes: { "data-x": "1" } },
          { type: "waitForExpression", expression: "window.ready" },
          { type: "close", target: "https://shop.test/popup" },
          { type: "emulateNetwork", offline: true },
          { type: "emulateNetwork", downloadThroughput: 1000, latencyMs: 20 },
          { type: "setViewport", width: 400, height: 800 },
        ],
      }),
    );
    expect(JSON.parse(content)).toEqual(flow);
    expect(flow.title).toBe("Checkout");
    expect(flow.steps).toEqual([
      {
        type: "setViewport",
        width: 1280,
        height: 720,
        deviceScaleFactor: 1,
        isMobile: false,
        hasTouch: false,
        isLandscape: false,
      },
      { type: "navigate", url: "https://shop.test/" },
      {
        type: "click",
        frame: [0, 2],
        target: "https://shop.test/popup",
        timeout: 4000,
        selectors: [
          'aria/Buy[role="button"]',
          '[data-testid="buy"]',
          "#a\\:b",
          "text/Buy now",
          "xpath///button",
          "pierce/#buy",
          'aria/[role="button"]',
          'a[href*="/buy"]',
          ["my-app", "button.buy"],
        ],
        offsetX: 5,
        offsetY: 6,
        button: "auxiliary",
        duration: 80,
      },
      { type: "change", selectors: ["#q"], value: "shoes" },
      { type: "hover", selectors: ["#menu"] },
      { type: "scroll", selectors: ["#box"], x: 0, y: 200 },
      { type: "scroll", x: 0, y: 900 },
      {
        type: "waitForElement",
        selectors: [".item"],
        operator: ">=",
        count: 2,
        visible: true,
        attributes: { "data-x": "1" },
      },
      { type: "waitForExpression", expression: "window.ready" },
      { type: "close", target: "https://shop.test/popup" },
      { type: "emulateNetworkConditions", download: 0, upload: 0, latency: 0 },
      { type: "emulateNetworkConditions", download: 1000, upload: -1, latency: 20 },
      {
        type: "setViewport",
        width: 400,
        height: 800,
        deviceScaleFactor: 1,
        isMobile: false,
        hasTouch: false,
        isLandscape: false,
      },
    ]);
    expect(warnings).toEqual([]);
  });

  it("writes modifiers, double clicks and keys as the Recorder records them", () => {
    const { flow, warnings } = exportChromeRecorder(
      recording({
        actions: [
          { type: "click", selector: "#t", clickCount: 2, modifiers: ["Shift"], position: { x: 1, y: 1 } },
          { type: "keypress", key: "k", modifiers: ["Control", "Shift"] },
          { type: "keypress", key: "Enter", selector: "#field" },
        ],
      }),
    );
    expect(flow.steps).toEqual([
      { type: "keyDown", key: "Shift" },
      { type: "doubleClick", selectors: ["#t"], offsetX: 1, offsetY: 1 },
      { type: "keyUp", key: "Shift" },
      { type: "keyDown", key: "Control" },
      { type: "keyDown", key: "Shift" },
      { type: "keyDown", key: "k" },
      { type: "keyUp", key: "k" },
      { type: "keyUp", key: "Shift" },
      { type: "keyUp", key: "Control" },
      {
        type: "waitForExpression",
        expression:
          '(() => { const element = document.querySelector("#field"); if (!element) return false; element.focus(); return true; })()',
      },
      { type: "keyDown", key: "Enter" },
      { type: "keyUp", key: "Enter" },
    ]);
    expect(warnings).toEqual([]);
  });

  it("writes checks as waits: assertedEvents after a navigation, expressions and waitForElement otherwise", () => {
    const { flow } = exportChromeRecorder(
      recording({
        actions: [
          { type: "navigate", url: "https://shop.test/a" },
          { type: "assert", check: "urlMatch", expected: "https://shop.test/a" },
          { type: "assert", check: "pageTitle", expected: "Shop  A" },
          { type: "assert", check: "urlContains", expected: "/a" },
          { type: "assert", check: "pageLoad" },
          { type: "assert", check: "elementVisible", selector: "#ok" },
          { type: "assert", check: "elementHasValue", selector: "#q", expected: "x" },
          { type: "assert", check: "elementText", selector: "#ok", expected: "Saved" },
          { type: "assert", check: "containsText", selector: [{ strategy: "xpath", value: "//p" }], expected: "Sav" },
          { type: "assert", check: "containsText", expected: "Welcome" },
          { type: "modal", state: "open" },
          { type: "modal", state: "closed", selector: "#modal" },
        ],
      }),
    );
    expect(flow.steps).toEqual([
      {
        type: "navigate",
        url: "https://shop.test/a",
        assertedEvents: [{ type: "navigation", url: "https://shop.test/a", title: "Shop  A" }],
      },
      { type: "waitForExpression", expression: 'location.href === "https://shop.test/a"' },
      { type: "waitForExpression", expression: 'document.title.replace(/\\s+/g, " ").trim() === "Shop A"' },
      { type: "waitForExpression", expression: 'location.href.includes("/a")' },
      { type: "waitForExpression", expression: 'document.readyState === "complete"' },
      { type: "waitForExpression", expression: 'document.querySelector("#ok")?.checkVisibility() === true' },
      { type: "waitForElement", selectors: ["#q"], operator: ">=", count: 1, properties: { value: "x" } },
      {
        type: "waitForExpression",
        expression: '(document.querySelector("#ok")?.textContent ?? "").replace(/\\s+/g, " ").trim() === "Saved"',
      },
      {
        type: "waitForExpression",
        expression:
          '(document.evaluate("//p", document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue?.textContent ?? "").replace(/\\s+/g, " ").trim().includes("Sav")',
      },
      {
        type: "waitForExpression",
        expression: 'document.body.innerText.replace(/\\s+/g, " ").trim().includes("Welcome")',
      },
      {
        type: "waitForExpression",
        expression:
          '[...document.querySelectorAll("dialog[open], [role=dialog], [role=alertdialog], [aria-modal=true], .modal.show, .swal2-popup")].some((element) => element.checkVisibility())',
      },
      {
        type: "waitForExpression",
        expression: '![...document.querySelectorAll("#modal")].some((element) => element.checkVisibility())',
      },
    ]);
  });

  it("names every approximation and every action left out in its warnings", () => {
    const { flow, warnings } = exportChromeRecorder(
      recording({
        dialogs: "dismiss",
        variables: [{ name: "USER", default: "alice" }, { name: "PASSWORD", sensitive: true }, { name: "CODE" }],
        actions: [
          { type: "navigate", url: "https://shop.test/${USER}", waitUntil: "networkidle" },
          { type: "input", selector: "#pw", value: "${PASSWORD}", sensitive: true },
          { type: "input", selector: "#code", value: "${CODE}" },
          { type: "click", selector: "#x", frame: "#frame", optional: true, timeoutMs: 60_000 },
          { type: "click", selector: "#y", clickCount: 3 },
          { type: "check", selector: "#terms" },
          { type: "select", selector: "#color", label: "Red" },
          { type: "select", selector: "#color", value: "red", label: "Red" },
          { type: "submit", selector: "#form" },
          { type: "submit", selector: [{ strategy: "text", value: "Form" }] },
          { type: "keypress", key: "Enter", selector: [{ strategy: "role", value: "textbox" }] },
          { type: "assert", check: "elementText", selector: [{ strategy: "aria", value: "Total" }], expected: "1" },
          { type: "assert", check: "elementVisible", selector: [{ strategy: "text", value: "Done" }] },
          { type: "modal", state: "open", selector: [{ strategy: "role", value: "dialog" }] },
          { type: "waitForElement", selector: ".spinner", visible: false, operator: "==", count: 0 },
        ],
      }),
    );
    const messages = warnings.map((w) => `${w.index ?? "-"} ${w.type ?? ""} ${w.message}`);
    expect(messages).toEqual([
      "-  browser dialogs are to be dismissed: the Recorder has no such setting",
      '0 navigate waits for "networkidle": the Recorder always waits for the load event',
      "-  ${PASSWORD} is left as written: the Recorder has no variables and this one is sensitive; replace it before replaying",
      "-  ${CODE} is left as written: the Recorder has no variables, and it has no default; replace it before replaying",
      "3 click is optional: the Recorder has no optional steps, so its failure stops the replay",
      '3 click happens in the iframe "#frame", given by CSS selector; the Recorder names frames by child-frame indexes only: written for the top frame',
      "3 click timeout 60000 ms is over the Recorder's 30000 ms: written as 30000",
      "4 click is a triple click: the Recorder has double clicks at most",
      "5 check checks a checkbox: written as a click, which toggles it whatever its state",
      "6 select picks its option by label: the Recorder selects by value only; left out",
      "7 select falls back to the option's label or index in Conveyor: the Recorder selects by value only",
      "8 submit the Recorder has no submit step: written as a waitForExpression that submits the form",
      "9 submit submits a form only text, role or ARIA can find: the Recorder has no submit step; left out",
      "10 keypress focuses an element only text, role or ARIA can find: the key goes to whatever has focus",
      "11 assert checks the text of an element only text, role or ARIA can find: the Recorder cannot read it; left out",
      "12 assert checks an element only text, role or ARIA can find: written as a waitForElement, which @puppeteer/replay also satisfies with a hidden one",
      "13 modal waits for a dialog only text, role or ARIA can find: written as a waitForElement, which @puppeteer/replay also satisfies with a hidden one",
      "14 waitForElement counts hidden elements: @puppeteer/replay reads visible: false as waiting until the count no longer holds",
      "-  3 clicks have no recorded position: the Recorder needs one, so they land 1 px inside the element's top-left corner instead of its centre",
    ]);
    expect(flow.steps[0]).toEqual({ type: "navigate", url: "https://shop.test/alice" });
    expect(flow.steps[1]).toMatchObject({ type: "change", value: "${PASSWORD}" });
    expect(flow.steps.find((step) => step.timeout !== undefined)?.timeout).toBe(30_000);
  });

  it("never writes a sensitive value", () => {
    const { content } = exportChromeRecorder(
      recording({
        variables: [{ name: "PASSWORD", sensitive: true, default: "default-secret" }],
        actions: [
          { type: "input", selector: "#pw", value: "literal-secret", sensitive: true },
          { type: "input", selector: "#pw2", value: "${PASSWORD}", sensitive: true },
          { type: "assert", check: "containsText", expected: "literal-secret default-secret" },
        ],
      }),
    );
    expect(content).not.toContain("literal-secret");
    expect(content).not.toContain("default-secret");
    expect(content).toContain("${SENSITIVE_A1}");
  });
});
