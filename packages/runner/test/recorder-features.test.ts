import type { RecordingInput } from "@conveyor/core";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXPRESSIONS_DISABLED_MESSAGE } from "../src/actions/index.ts";
import type { ExecuteOptions } from "../src/execute.ts";
import { BrowserPool } from "../src/pool.ts";
import { runRecording, testChromiumPath } from "./helpers.ts";

// What Chrome DevTools Recorder recordings need, replayed on real Chromium against the fixture
// site: aria and pierce selectors, chained candidates (shadow DOM), frames by index path, target
// pages (popups), click holds, waitForElement, waitForExpression, close, emulateNetwork,
// setViewport, and input on a <select> or a contenteditable. Each passes when the page does what
// the recording expects, and fails at the right action, with a message that says why, when not.

let site: FixtureSite;
let pool: BrowserPool;

/**
 * Runs a recording with a 15 s budget per action (opening `startUrl` included): a loaded machine
 * can take over 5 s to load a page with nested iframes. Failing variants set short budgets.
 */
const replay = (input: RecordingInput, overrides: Partial<ExecuteOptions> = {}) =>
  runRecording(pool, input, { actionTimeoutMs: 15_000, ...overrides });

beforeAll(async () => {
  site = await startFixtureSite();
  pool = new BrowserPool({ executablePath: testChromiumPath() });
  await pool.warm();
}, 30_000);

afterAll(async () => {
  await pool?.close();
  await site?.close();
});

describe("aria and pierce selectors, chains into shadow roots", () => {
  it("finds elements two shadow roots deep by accessible name and role, by pierce CSS and by chain", async () => {
    const result = await replay({
      name: "shadow",
      startUrl: `${site.url}/shadow`,
      actions: [
        { type: "input", selector: [{ strategy: "aria", value: "Shadow field" }], value: "deep" },
        { type: "click", selector: [{ strategy: "aria", value: 'Press me[role="button"]' }] },
        { type: "assert", check: "elementText", selector: "#shadow-result", expected: "pressed: deep" },
        { type: "input", selector: [{ strategy: "pierce", value: "#shadow-input" }], value: "pierced" },
        {
          type: "click",
          selector: [
            {
              strategy: "css",
              value: "#shadow-button",
              within: [
                { strategy: "css", value: "outer-host" },
                { strategy: "css", value: "inner-host" },
              ],
            },
          ],
        },
        { type: "assert", check: "elementText", selector: "#shadow-result", expected: "pressed: pierced" },
        // `Press me` names a light DOM link too; inside outer-host only the button has it.
        {
          type: "click",
          selector: [
            { strategy: "aria", value: "Press me", within: [{ strategy: "css", value: "outer-host" }], confidence: 90 },
          ],
        },
        { type: "assert", check: "elementVisible", selector: [{ strategy: "aria", value: '[role="link"]' }] },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
    expect(result.actions.map((action) => action.selectorUsed)).toEqual([
      "aria/Shadow field",
      'aria/Press me[role="button"]',
      "css=#shadow-result",
      "pierce/#shadow-input",
      "css=outer-host >> css=inner-host >> css=#shadow-button",
      "css=#shadow-result",
      "css=outer-host >> aria/Press me",
      'aria/[role="link"]',
    ]);
  });

  it("passes over an ambiguous sure aria name for the next candidate, and fails naming a wrong one", async () => {
    const result = await replay({
      name: "aria ambiguity",
      startUrl: `${site.url}/shadow`,
      actions: [
        {
          type: "click",
          selector: [
            { strategy: "aria", value: "Press me", confidence: 90 },
            { strategy: "aria", value: "Press me[role=button]" },
            { strategy: "aria", value: "Press me[role='button']" },
          ],
        },
        { type: "assert", check: "elementText", selector: "#shadow-result", expected: "pressed: " },
        { type: "click", timeoutMs: 500, selector: [{ strategy: "aria", value: 'Press you[role="button"]' }] },
      ],
    });
    expect(result.outcome).toBe("failed");
    expect(result.actions[0]).toMatchObject({
      status: "passed",
      selectorUsed: "aria/Press me[role='button']",
      selectorsTried: [
        "aria/Press me (2 matches, needs exactly 1)",
        "aria/Press me[role=button]",
        "aria/Press me[role='button']",
      ],
    });
    expect(result.error).toEqual({
      kind: "test_failure",
      actionIndex: 2,
      message:
        'No element matched selector(s): aria/Press you[role="button"] within 500 ms; tried: aria/Press you[role="button"] (0 matches)',
    });
  });

  it("reports an aria value it cannot read as invalid", async () => {
    const result = await replay({
      name: "aria invalid",
      startUrl: `${site.url}/shadow`,
      actions: [{ type: "click", timeoutMs: 300, selector: [{ strategy: "aria", value: 'Press me[level="2"]' }] }],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error?.message).toBe(
      'No element matched selector(s): aria/Press me[level="2"] within 300 ms; tried: aria/Press me[level="2"] (invalid: unknown ARIA attribute "level" (only name and role are supported))',
    );
  });
});

describe("frames by index path", () => {
  it("acts in the top frame's first child frame, and one level deeper", async () => {
    const result = await replay({
      name: "frame paths",
      startUrl: `${site.url}/iframe`,
      actions: [
        { type: "input", frame: [0], selector: "#inner-input", value: "by index" },
        { type: "click", frame: [0], selector: [{ strategy: "aria", value: 'Go[role="button"]' }] },
        { type: "assert", check: "elementText", frame: [0], selector: "#inner-result", expected: "inner: by index" },
        { type: "assert", check: "containsText", frame: [], expected: "Outer page" },
        { type: "navigate", url: "/iframe-nested" },
        { type: "input", frame: [0, 0], selector: "#inner-input", value: "nested" },
        { type: "click", frame: [0, 0], selector: "#inner-button" },
        { type: "assert", check: "containsText", frame: [0, 0], expected: "inner: nested" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });

  it("fails saying where the path ended", async () => {
    const result = await replay({
      name: "no such frame",
      startUrl: `${site.url}/iframe-nested`,
      actions: [
        { type: "assert", check: "containsText", frame: [0], expected: "Outer page" },
        { type: "click", frame: [0, 3], selector: "#inner-button", timeoutMs: 300 },
      ],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error).toEqual({
      kind: "test_failure",
      actionIndex: 1,
      message: "No frame [0, 3] within 300 ms: frame [0] has 1 child frame",
    });
  });
});

describe("target pages (popups)", () => {
  it("acts in a tab a link opened and in a window.open popup, closes them, and goes on in the first page", async () => {
    const linkUrl = `${site.url}/popup-page?via=link`;
    const result = await replay({
      name: "popups",
      startUrl: `${site.url}/opener`,
      actions: [
        { type: "click", selector: "#open-link" },
        { type: "assert", check: "elementText", target: linkUrl, selector: "#popup-title", expected: "Popup via link" },
        { type: "click", target: linkUrl, selector: "#popup-reply" },
        { type: "assert", check: "elementText", target: linkUrl, selector: "#popup-result", expected: "replied" },
        { type: "close", target: linkUrl },
        { type: "click", target: "main", selector: "#open-window" },
        // A prefix of its URL is enough.
        { type: "click", target: `${site.url}/popup-page`, selector: "#popup-reply" },
        { type: "assert", check: "elementText", selector: "#opener-result", expected: "reply: window" },
        { type: "close", target: `${site.url}/popup-page?via=window` },
        // Opened 500 ms after the click: waited for.
        { type: "click", selector: "#open-late" },
        { type: "assert", check: "urlContains", target: `${site.url}/popup-page`, expected: "via=window" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
    expect(result.actions.map((action) => action.pageUrl)).toEqual([
      `${site.url}/opener`,
      linkUrl,
      linkUrl,
      linkUrl,
      linkUrl,
      `${site.url}/opener`,
      `${site.url}/popup-page?via=window`,
      `${site.url}/opener`,
      `${site.url}/popup-page?via=window`,
      `${site.url}/opener`,
      `${site.url}/popup-page?via=window`,
    ]);
  });

  it("fails when the popup never opens, listing the open pages, with a sensitive URL redacted", async () => {
    const result = await replay(
      {
        name: "no popup",
        startUrl: `${site.url}/opener`,
        variables: [{ name: "TOKEN", sensitive: true }],
        actions: [
          { type: "assert", check: "elementVisible", selector: "#open-link" },
          {
            type: "click",
            target: `${site.url}/popup-page?token=\${TOKEN}`,
            selector: "#popup-reply",
            timeoutMs: 500,
          },
        ],
      },
      { variables: { TOKEN: "s3cret-token" } },
    );
    expect(result.outcome).toBe("failed");
    expect(result.error).toEqual({
      kind: "test_failure",
      actionIndex: 1,
      message: `No page with URL "${site.url}/popup-page?token=[redacted]" (or starting with it) opened within 500 ms; open pages: main (${site.url}/opener)`,
    });
  });

  it("fails, without a retry, an action on a popup that closed itself, and the next one on it", async () => {
    const popup = `${site.url}/popup-page?via=window`;
    const result = await replay({
      name: "self-closing popup",
      startUrl: `${site.url}/opener`,
      actions: [
        { type: "click", selector: "#open-window" },
        { type: "click", target: popup, selector: "#popup-close" },
        { type: "click", target: popup, selector: "#popup-reply", timeoutMs: 300 },
      ],
    });
    expect(result.outcome).toBe("failed");
    expect(result.actions[1]?.status).toBe("passed");
    expect(result.error).toMatchObject({ kind: "test_failure", actionIndex: 2 });
    expect(result.error?.message).toContain(`No page with URL "${popup}"`);
  });

  it("fails, without a retry, an action whose popup closes while it waits", async () => {
    const popup = `${site.url}/popup-page?via=window`;
    const result = await replay({
      name: "popup closing mid-action",
      startUrl: `${site.url}/opener`,
      actions: [
        { type: "click", selector: "#open-window" },
        { type: "click", target: popup, selector: "#popup-close-late" },
        { type: "waitForElement", target: popup, selector: "#never", timeoutMs: 5000 },
      ],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error).toMatchObject({
      kind: "test_failure",
      actionIndex: 2,
      message: `The page "${popup}" closed during the action`,
    });
  });
});

describe("click hold", () => {
  it("holds the button down for holdMs", async () => {
    const result = await replay({
      name: "hold",
      startUrl: `${site.url}/press`,
      actions: [
        { type: "click", selector: "#press-target" },
        { type: "assert", check: "elementText", selector: "#press-result", expected: "short press" },
        { type: "click", selector: "#press-target", holdMs: 500 },
        { type: "assert", check: "elementText", selector: "#press-result", expected: "long press" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.actions[2]?.durationMs).toBeGreaterThanOrEqual(500);
  });
});

describe("waitForElement", () => {
  it("waits for counts, attributes, properties, visibility and disappearance", async () => {
    const result = await replay({
      name: "wait for element",
      startUrl: `${site.url}/appear?ms=500`,
      variables: [{ name: "STATE", default: "ready" }],
      actions: [
        { type: "waitForElement", selector: "#hidden-note", visible: false, operator: "==", count: 1 },
        { type: "waitForElement", selector: "#status", attributes: { "data-state": "${STATE}" } },
        { type: "waitForElement", selector: "#progress", properties: { value: "100" } },
        { type: "waitForElement", selector: "#status", properties: { dataset: { state: "ready" } } },
        {
          type: "waitForElement",
          selector: [
            { strategy: "css", value: ".missing" },
            { strategy: "css", value: ".row" },
          ],
          count: 3,
        },
        { type: "waitForElement", selector: ".row", operator: "<=", count: 3, visible: true },
        { type: "waitForElement", selector: "#spinner", operator: "==", count: 0 },
        {
          type: "waitForElement",
          selector: [{ strategy: "aria", value: "Shadow field" }],
          frame: [],
          operator: "==",
          count: 0,
        },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
    expect(result.actions[4]).toMatchObject({ selectorUsed: "css=.row", selectorsTried: ["css=.missing", "css=.row"] });
    // Nothing matched: no candidate was used.
    expect(result.actions[7]?.selectorUsed).toBeUndefined();
    expect(result.actions[7]?.selectorsTried).toEqual(["aria/Shadow field"]);
  });

  it("fails when the count is never reached, saying how many qualified", async () => {
    const result = await replay({
      name: "too few",
      startUrl: `${site.url}/appear?ms=0`,
      actions: [
        { type: "waitForElement", selector: ".row", count: 3 },
        { type: "waitForElement", selector: ".row", count: 5, timeoutMs: 400 },
      ],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error).toEqual({
      kind: "test_failure",
      actionIndex: 1,
      message: "Expected at least 5 elements matching .row within 400 ms, but css=.row had 3 that qualified",
    });
  });

  it("fails a visibility, attribute or exact count that never holds", async () => {
    const wrong = async (action: object) =>
      (
        await replay(
          { name: "wrong", startUrl: `${site.url}/appear?ms=0`, actions: [action as never] },
          { options: { screenshots: "off" } },
        )
      ).error?.message;
    expect(await wrong({ type: "waitForElement", selector: "#hidden-note", visible: true, timeoutMs: 300 })).toBe(
      "Expected at least 1 element (visible) matching #hidden-note within 300 ms, but css=#hidden-note had 0 that qualified",
    );
    expect(
      await wrong({
        type: "waitForElement",
        selector: "#status",
        attributes: { "data-state": "broken" },
        timeoutMs: 300,
      }),
    ).toBe(
      'Expected at least 1 element (with attributes {"data-state":"broken"}) matching #status within 300 ms, but css=#status had 0 that qualified',
    );
    expect(await wrong({ type: "waitForElement", selector: ".row", operator: "==", count: 1, timeoutMs: 300 })).toBe(
      "Expected exactly 1 element matching .row within 300 ms, but css=.row had 3 that qualified",
    );
    expect(await wrong({ type: "waitForElement", selector: "#nothing", timeoutMs: 300 })).toBe(
      "Expected at least 1 element matching #nothing within 300 ms, but none matched",
    );
  });
});

describe("waitForExpression", () => {
  it("evaluates in the page until truthy, awaiting promises, also in a frame, when expressions are allowed", async () => {
    const result = await replay(
      {
        name: "expressions",
        startUrl: `${site.url}/appear?ms=400`,
        actions: [
          { type: "waitForExpression", expression: 'window.appState === "ready"' },
          {
            type: "waitForExpression",
            expression:
              "new Promise((done) => setTimeout(() => done(document.querySelectorAll('.row').length === 3), 20)) // rows",
          },
          { type: "navigate", url: "/iframe" },
          { type: "waitForExpression", frame: "#frame", expression: 'document.title === "Inner frame"' },
          { type: "waitForExpression", frame: [0], expression: 'document.title === "Inner frame"' },
        ],
      },
      { allowExpressions: true },
    );
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });

  it("fails an expression that stays falsy or keeps throwing; one that does not parse ends the run errored", async () => {
    const run = async (expression: string) =>
      (
        await replay(
          {
            name: "expression",
            startUrl: `${site.url}/appear?ms=0`,
            actions: [{ type: "waitForExpression", expression, timeoutMs: 300 }],
          },
          { allowExpressions: true, options: { screenshots: "off" } },
        )
      ).error;
    expect(await run('window.appState === "never"')).toEqual({
      kind: "test_failure",
      actionIndex: 0,
      message: 'Expected the expression "window.appState === \\"never\\"" to be truthy within 300 ms, but it was falsy',
    });
    expect(await run("window.missing.ready")).toEqual({
      kind: "test_failure",
      actionIndex: 0,
      message:
        'Expected the expression "window.missing.ready" to be truthy within 300 ms, but it threw: "TypeError: Cannot read properties of undefined (reading \'ready\')"',
    });
    expect(await run("new Promise(() => {})")).toEqual({
      kind: "test_failure",
      actionIndex: 0,
      message: 'Expected the expression "new Promise(() => {})" to be truthy within 300 ms, but no evaluation finished',
    });
    expect(await run("window.(")).toMatchObject({
      kind: "permanent",
      actionIndex: 0,
      message: expect.stringMatching(/^The expression does not parse: SyntaxError: /),
    });
  });

  it("is refused, never evaluated, when expressions are not allowed", async () => {
    const result = await replay({
      name: "refused",
      startUrl: `${site.url}/appear?ms=0`,
      actions: [
        // Optional: skipped with the refusal; the title shows it never ran.
        { type: "waitForExpression", expression: '(document.title = "evaluated", true)', optional: true },
        { type: "assert", check: "pageTitle", expected: "Appear" },
        { type: "waitForExpression", expression: "true" },
        { type: "assert", check: "pageTitle", expected: "Appear" },
      ],
    });
    expect(result.outcome).toBe("errored");
    expect(result.actions.map((action) => action.status)).toEqual(["skipped", "passed", "failed"]);
    const refusal = { kind: "permanent", code: "expressions_disabled", message: EXPRESSIONS_DISABLED_MESSAGE };
    expect(result.actions[0]?.error).toEqual(refusal);
    expect(result.error).toEqual({ ...refusal, actionIndex: 2 });
    expect(EXPRESSIONS_DISABLED_MESSAGE).toContain("enable expressions for the project");
  });
});

describe("input sets any field's value", () => {
  it("picks a <select> option by value, then by label", async () => {
    const result = await replay({
      name: "input select",
      startUrl: `${site.url}/select`,
      actions: [
        { type: "input", selector: "#color", value: "green" },
        { type: "assert", check: "elementText", selector: "#chosen", expected: "Chosen: green" },
        { type: "input", selector: [{ strategy: "aria", value: '[role="combobox"]' }], value: "Blue" },
        { type: "assert", check: "elementText", selector: "#chosen", expected: "Chosen: blue" },
        // Budget enough for a loaded machine: the first read of the options must fit in it.
        { type: "input", selector: "#color", value: "purple", timeoutMs: 4000 },
      ],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error).toEqual({
      kind: "test_failure",
      actionIndex: 4,
      message:
        'No option of css=#color matched value "purple", then label "purple"; available options: 0: "" ("Choose…"), 1: "red" ("Red"), 2: "green" ("Green"), 3: "blue" ("Blue")',
    });
  });

  it("replaces a contenteditable element's text, at once and key by key", async () => {
    const result = await replay({
      name: "contenteditable",
      startUrl: `${site.url}/editable`,
      actions: [
        { type: "input", selector: "#editor", value: "New text" },
        { type: "assert", check: "elementText", selector: "#editor", expected: "New text" },
        { type: "assert", check: "elementText", selector: "#editor-out", expected: "text: New text" },
        { type: "input", selector: "#editor", value: "typed", mode: "type" },
        { type: "assert", check: "elementText", selector: "#editor-out", expected: "text: typed" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });

  it("fills a form with the keyboard only: Tab between fields, Enter submits", async () => {
    const result = await replay({
      name: "keyboard only",
      startUrl: `${site.url}/keyboard-form`,
      actions: [
        { type: "keypress", key: "Tab" },
        { type: "keypress", key: "a" },
        { type: "keypress", key: "Tab" },
        { type: "keypress", key: "b" },
        { type: "keypress", key: "Enter" },
        { type: "assert", check: "elementText", selector: "#kb-result", expected: "submitted: first=a second=b" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });
});

describe("emulateNetwork and setViewport", () => {
  it("takes the page offline and back, then adds latency", async () => {
    const result = await replay({
      name: "network",
      startUrl: `${site.url}/network`,
      actions: [
        { type: "emulateNetwork", offline: true },
        { type: "assert", check: "elementText", selector: "#online", expected: "offline" },
        { type: "click", selector: "#ping" },
        { type: "assert", check: "elementText", selector: "#ping-result", expected: "failed" },
        { type: "emulateNetwork" },
        { type: "assert", check: "elementText", selector: "#online", expected: "online" },
        { type: "click", selector: "#ping" },
        { type: "waitForElement", selector: "#ping-result", attributes: { "data-slow": "no" } },
        { type: "emulateNetwork", latencyMs: 500, downloadThroughput: 100_000, uploadThroughput: -1 },
        { type: "click", selector: "#ping" },
        { type: "waitForElement", selector: "#ping-result", attributes: { "data-slow": "yes" } },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });

  it("fails, not retries, a navigation the recording itself took offline", async () => {
    const result = await replay({
      name: "offline navigation",
      startUrl: `${site.url}/network`,
      actions: [
        { type: "emulateNetwork", offline: true },
        { type: "navigate", url: "/viewport", timeoutMs: 3000 },
      ],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error).toMatchObject({ kind: "test_failure", actionIndex: 1 });
    expect(result.error?.message).toContain("ERR_INTERNET_DISCONNECTED");
  });

  it("resizes the viewport", async () => {
    const result = await replay({
      name: "viewport",
      startUrl: `${site.url}/viewport`,
      viewport: { width: 1024, height: 768 },
      actions: [
        { type: "assert", check: "elementText", selector: "#size", expected: "1024x768" },
        { type: "setViewport", width: 500, height: 400 },
        { type: "assert", check: "elementText", selector: "#size", expected: "500x400" },
        { type: "assert", check: "elementText", selector: "#size", expected: "1024x768", timeoutMs: 300 },
      ],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error).toEqual({
      kind: "test_failure",
      actionIndex: 3,
      message: 'Expected text of "#size" to be "1024x768" but was "500x400"',
    });
  });
});
