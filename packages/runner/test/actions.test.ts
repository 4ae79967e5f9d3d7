import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrowserPool } from "../src/pool.ts";
import { runRecording, testChromiumPath } from "./helpers.ts";

// Every action type, on real Chromium against the fixture site: each passes when the page does
// what the recording expects, and fails at the right action, with the right message, when not.

let site: FixtureSite;
let pool: BrowserPool;

beforeAll(async () => {
  site = await startFixtureSite();
  pool = new BrowserPool({ executablePath: testChromiumPath() });
  await pool.warm();
}, 30_000);

afterAll(async () => {
  await pool?.close();
  await site?.close();
});

describe("click", () => {
  it("double-clicks, right-clicks, holds modifiers and clicks at a position", async () => {
    const result = await runRecording(pool, {
      name: "click",
      startUrl: `${site.url}/double`,
      actions: [
        { type: "click", selector: "#target", clickCount: 2 },
        { type: "assert", check: "elementText", selector: "#dbl", expected: "double" },
        { type: "click", selector: "#target", button: "right" },
        { type: "assert", check: "elementText", selector: "#ctx", expected: "context" },
        { type: "click", selector: "#target", modifiers: ["Shift"], position: { x: 10, y: 5 } },
        { type: "assert", check: "elementText", selector: "#mod", expected: "shift" },
        { type: "assert", check: "elementText", selector: "#pos", expected: "10,5" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });

  it("a single click is not a double click", async () => {
    const result = await runRecording(pool, {
      name: "single",
      startUrl: `${site.url}/double`,
      actions: [
        { type: "click", selector: "#target" },
        { type: "assert", check: "elementText", selector: "#dbl", expected: "double", timeoutMs: 2000 },
      ],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error).toMatchObject({
      actionIndex: 1,
      message: 'Expected text of "#dbl" to be "double" but was ""',
    });
  });
});

describe("input, check and keypress", () => {
  it("types key by key, and Enter submits on /keys", async () => {
    const result = await runRecording(pool, {
      name: "type",
      startUrl: `${site.url}/keys`,
      actions: [
        { type: "input", selector: "#field", value: "stale" },
        { type: "input", selector: "#field", value: "hello", mode: "type", typingDelayMs: 20 },
        { type: "assert", check: "elementHasValue", selector: "#field", expected: "hello" },
        { type: "keypress", selector: "#field", key: "Enter" },
        { type: "assert", check: "elementText", selector: "#result", expected: "submitted: hello" },
        { type: "keypress", key: "K", modifiers: ["Control"] },
        { type: "assert", check: "elementText", selector: "#shortcut", expected: "shortcut" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
    // Typing 5 keys 20 ms apart takes at least 80 ms.
    expect(result.actions[1]?.durationMs).toBeGreaterThanOrEqual(80);
  });

  it("without the Enter keypress the same assertion fails: keypresses are never skipped", async () => {
    const result = await runRecording(pool, {
      name: "no enter",
      startUrl: `${site.url}/keys`,
      actions: [
        { type: "input", selector: "#field", value: "hello" },
        { type: "assert", check: "elementText", selector: "#result", expected: "submitted: hello", timeoutMs: 500 },
      ],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error).toEqual({
      kind: "test_failure",
      actionIndex: 1,
      message: 'Expected text of "#result" to be "submitted: hello" but was ""',
    });
  });

  it("checks checkboxes and radios, with `check` and with `input`", async () => {
    const result = await runRecording(pool, {
      name: "check",
      startUrl: `${site.url}/checkboxes`,
      actions: [
        { type: "check", selector: "#terms" },
        { type: "check", selector: "#plan-pro" },
        { type: "assert", check: "elementText", selector: "#summary", expected: "terms=yes plan=pro" },
        { type: "check", selector: "#terms", checked: false },
        { type: "input", selector: "#plan-free", value: "true" },
        { type: "assert", check: "elementText", selector: "#summary", expected: "terms=no plan=free" },
        { type: "input", selector: "#terms", value: "on" },
        { type: "assert", check: "elementText", selector: "#summary", expected: "terms=yes plan=free" },
        // Typed input (key by key) on a checkbox sets its state too.
        { type: "input", selector: "#terms", value: "off", mode: "type" },
        { type: "assert", check: "elementText", selector: "#summary", expected: "terms=no plan=free" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });

  it("refuses to uncheck a radio button", async () => {
    const result = await runRecording(pool, {
      name: "uncheck radio",
      startUrl: `${site.url}/checkboxes`,
      actions: [{ type: "check", selector: "#plan-pro", checked: false }],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error?.message).toBe(
      "Cannot uncheck radio button css=#plan-pro: radio buttons are cleared by checking another one of their group",
    );
  });
});

describe("select", () => {
  it("picks by value, label and index, waiting for options added late", async () => {
    const result = await runRecording(pool, {
      name: "select",
      startUrl: `${site.url}/lists`,
      actions: [
        { type: "select", selector: "#late-select", value: "b" },
        { type: "assert", check: "elementHasValue", selector: "#late-select", expected: "b" },
        { type: "select", selector: "#late-select", value: "gone", label: "Alpha" },
        { type: "assert", check: "elementHasValue", selector: "#late-select", expected: "a" },
        { type: "select", selector: "#late-select", label: "Nope", index: 1 },
        { type: "assert", check: "elementHasValue", selector: "#late-select", expected: "b" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });

  it("says what it tried and which options exist", async () => {
    const result = await runRecording(pool, {
      name: "select missing",
      startUrl: `${site.url}/select`,
      // Budget enough for a loaded machine: the first read of the options must fit in it (all of it is
      // spent polling for a late option anyway).
      actions: [{ type: "select", selector: "#color", value: "purple", index: 9, timeoutMs: 6000 }],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error?.message).toBe(
      'No option of css=#color matched value "purple", then index 9, then label "purple"; available options: 0: "" ("Choose…"), 1: "red" ("Red"), 2: "green" ("Green"), 3: "blue" ("Blue")',
    );
  });
});

describe("hover, scroll, submit, modal", () => {
  it("hovers to open a menu, then follows its link", async () => {
    const result = await runRecording(pool, {
      name: "hover",
      startUrl: `${site.url}/hover`,
      actions: [
        { type: "hover", selector: "#menu" },
        { type: "assert", check: "elementText", selector: "#hover-state", expected: "entered" },
        { type: "click", selector: [{ strategy: "text", value: "Settings" }] },
        { type: "assert", check: "urlContains", expected: "user=hover" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });

  it("cannot click the hidden submenu link without hovering", async () => {
    const result = await runRecording(pool, {
      name: "no hover",
      startUrl: `${site.url}/hover`,
      actions: [{ type: "click", selector: "#submenu-link", timeoutMs: 3000 }],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error?.message).toContain("not visible");
  });

  it("scrolls the window and a scroll container", async () => {
    const result = await runRecording(pool, {
      name: "scroll",
      startUrl: `${site.url}/scroll`,
      actions: [
        { type: "scroll", y: 1000 },
        { type: "assert", check: "elementText", selector: "#scrollpos", expected: "0,1000", timeoutMs: 1000 },
        { type: "scroll", selector: "#box", x: 20, y: 500 },
        { type: "assert", check: "elementText", selector: "#boxpos", expected: "20,500", timeoutMs: 1000 },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });

  it("submits a form without a submit button and follows the navigation", async () => {
    const result = await runRecording(pool, {
      name: "submit",
      startUrl: `${site.url}/form-submit`,
      actions: [
        { type: "input", selector: "#q", value: "a b" },
        { type: "submit", selector: "#q" },
        // No polling grace here: the submit itself waited for the new page.
        { type: "assert", check: "urlMatch", expected: `${site.url}/submitted?q=a%20b`, timeoutMs: 1 },
        { type: "assert", check: "elementText", selector: "#submitted", expected: "submitted: a b" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });

  it("submits a script-handled form that never navigates", async () => {
    const result = await runRecording(pool, {
      name: "script submit",
      startUrl: `${site.url}/script-form`,
      actions: [
        { type: "input", selector: "#q", value: "x" },
        // A long budget, so that "waited for a navigation until the budget ran out" (20 s) and "saw
        // none within the short grace" (well under a second) stay far apart on a loaded machine.
        { type: "submit", selector: "#form", timeoutMs: 20_000 },
        { type: "assert", check: "elementText", selector: "#status", expected: "handled: x" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
    expect(result.actions[1]?.durationMs).toBeLessThan(10_000);
  });

  it("fails to submit an element outside any form", async () => {
    const result = await runRecording(pool, {
      name: "no form",
      startUrl: `${site.url}/keys`,
      actions: [{ type: "submit", selector: "#field" }],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error?.message).toBe("css=#field is not a form, nor inside one");
  });

  it("waits for a modal to open and to close", async () => {
    const result = await runRecording(pool, {
      name: "modal",
      startUrl: `${site.url}/modal`,
      actions: [
        { type: "modal", state: "closed" },
        { type: "click", selector: "#open-modal" },
        { type: "modal", state: "open" },
        { type: "click", selector: "#close-modal" },
        { type: "modal", state: "closed", selector: "#modal" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
    // The dialog appears ~300 ms after the click; the open wait passing means it saw it (a wall-clock
    // lower bound here would depend on how fast the click returned on a loaded machine).
    expect(result.actions.map((a) => a.status)).toEqual(["passed", "passed", "passed", "passed", "passed"]);
  });

  it("fails when no modal opens", async () => {
    const result = await runRecording(pool, {
      name: "no modal",
      startUrl: `${site.url}/modal`,
      actions: [{ type: "modal", state: "open", timeoutMs: 300 }],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error?.message).toBe(
      "Expected a modal dialog (dialog[open], [role=dialog], [role=alertdialog], [aria-modal=true], .modal.show, .swal2-popup) to open, but none was visible after 300 ms",
    );
  });
});

describe("assert", () => {
  it("checks values, titles (also late ones) and page load; a wrong value fails", async () => {
    const result = await runRecording(pool, {
      name: "asserts",
      startUrl: `${site.url}/title`,
      actions: [
        { type: "assert", check: "pageTitle", expected: "Fixture Title" },
        { type: "assert", check: "pageLoad", expected: "" },
        { type: "navigate", url: "/late-title?ms=400" },
        { type: "assert", check: "pageTitle", expected: "Late Title" },
        { type: "navigate", url: "/login" },
        { type: "input", selector: "#username", value: "alice" },
        { type: "assert", check: "elementHasValue", selector: "#username", expected: "alice" },
        { type: "assert", check: "elementHasValue", selector: "#password", expected: "x", timeoutMs: 300 },
      ],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error).toEqual({
      kind: "test_failure",
      actionIndex: 7,
      message: 'Expected value of "#password" to be "x" but was ""',
    });
  });

  it("fails a wrong title, URL and text with expected vs actual", async () => {
    const wrong = async (action: object) =>
      (await runRecording(pool, { name: "wrong", startUrl: `${site.url}/title`, actions: [action as never] })).error
        ?.message;
    expect(await wrong({ type: "assert", check: "pageTitle", expected: "Other", timeoutMs: 300 })).toBe(
      'Expected the page title to be "Other" but was "Fixture Title"',
    );
    expect(await wrong({ type: "assert", check: "urlContains", expected: "/nowhere", timeoutMs: 300 })).toBe(
      `Expected URL to contain "/nowhere" but was "${site.url}/title"`,
    );
    expect(await wrong({ type: "assert", check: "urlMatch", expected: `${site.url}/other`, timeoutMs: 300 })).toBe(
      `Expected URL to be "${site.url}/other" but was "${site.url}/title"`,
    );
    expect(await wrong({ type: "assert", check: "containsText", expected: "Nowhere", timeoutMs: 300 })).toBe(
      'Expected the page to contain "Nowhere" but its text was "Title page"',
    );
    // A budget too short for any read: one last read still says what the page shows.
    expect(await wrong({ type: "assert", check: "containsText", expected: "Nowhere", timeoutMs: 1 })).toBe(
      'Expected the page to contain "Nowhere" but its text was "Title page"',
    );
    expect(await wrong({ type: "assert", check: "pageLoad", timeoutMs: 1 })).toBeUndefined();
  });
});

describe("frames", () => {
  it("acts inside an iframe, and inside nested iframes", async () => {
    const result = await runRecording(pool, {
      name: "frames",
      startUrl: `${site.url}/iframe`,
      actions: [
        { type: "input", frame: "#frame", selector: "#inner-input", value: "in frame" },
        { type: "click", frame: "#frame", selector: [{ strategy: "text", value: "Go" }] },
        {
          type: "assert",
          check: "elementText",
          frame: "#frame",
          selector: "#inner-result",
          expected: "inner: in frame",
        },
        { type: "assert", check: "containsText", frame: "#frame", expected: "inner: in frame" },
        { type: "assert", check: "pageLoad", frame: "#frame", expected: "" },
        { type: "navigate", url: "/iframe-nested" },
        { type: "input", frame: "#outer >>> #frame", selector: "#inner-input", value: "nested" },
        { type: "click", frame: "#outer >>> #frame", selector: "#inner-button" },
        {
          type: "assert",
          check: "elementText",
          frame: "#outer >>> #frame",
          selector: "#inner-result",
          expected: "inner: nested",
        },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });

  it("names the frame when an element is missing in it", async () => {
    const result = await runRecording(pool, {
      name: "frame missing",
      startUrl: `${site.url}/iframe`,
      actions: [
        // On the top page the inner field does not exist.
        { type: "input", selector: "#inner-input", value: "x", timeoutMs: 300, optional: true },
        { type: "click", frame: "#frame", selector: "#not-there", timeoutMs: 300 },
      ],
    });
    expect(result.outcome).toBe("failed");
    expect(result.actions[0]?.status).toBe("skipped");
    expect(result.error).toMatchObject({
      actionIndex: 1,
      message:
        'No element matched selector(s): #not-there in frame "#frame" within 300 ms; tried: css=#not-there (0 matches)',
    });
  });
});

describe("browser dialogs", () => {
  it("accepts alerts, confirms and prompts by default", async () => {
    const result = await runRecording(pool, {
      name: "dialogs",
      startUrl: `${site.url}/dialogs`,
      actions: [
        { type: "click", selector: "#alert", timeoutMs: 3_000 },
        { type: "assert", check: "elementText", selector: "#alert-result", expected: "alerted" },
        { type: "click", selector: "#confirm" },
        { type: "assert", check: "elementText", selector: "#confirm-result", expected: "true" },
        { type: "click", selector: "#prompt" },
        { type: "assert", check: "elementText", selector: "#prompt-result", expected: "fixture" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });

  it("dismisses them when the recording says so", async () => {
    const result = await runRecording(pool, {
      name: "dismiss",
      startUrl: `${site.url}/dialogs`,
      dialogs: "dismiss",
      actions: [
        { type: "click", selector: "#confirm", timeoutMs: 3_000 },
        { type: "assert", check: "elementText", selector: "#confirm-result", expected: "false" },
        { type: "click", selector: "#prompt" },
        { type: "assert", check: "elementText", selector: "#prompt-result", expected: "null" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });
});
