import { describe, expect, it } from "vitest";
import { cssEscapeIdentifier, cssString, describeFrame, describeSelector, parseAriaValue } from "./selectors.ts";

describe("cssEscapeIdentifier", () => {
  it.each([
    ["plain-id_1", "plain-id_1"],
    ["a:b.c", "a\\:b\\.c"],
    ["1st", "\\31 st"],
    ["-", "\\-"],
    ["-1x", "-\\31 x"],
    ['q"uo\\te', 'q\\"uo\\\\te'],
    ["new\nline", "new\\a line"],
    ["héllo", "héllo"],
  ])("escapes %j as %j", (input, expected) => {
    expect(cssEscapeIdentifier(input)).toBe(expected);
  });
});

describe("cssString", () => {
  it("escapes quotes, backslashes and line breaks", () => {
    expect(cssString('say "hi" \\ now')).toBe('"say \\"hi\\" \\\\ now"');
    expect(cssString("a\nb")).toBe('"a\\a b"');
    expect(cssString("it's")).toBe('"it\'s"');
  });
});

describe("describeSelector", () => {
  it("shows CSS as written and candidates as strategy=value", () => {
    expect(describeSelector("#login")).toBe("#login");
    expect(
      describeSelector([
        { strategy: "testid", value: "login" },
        { strategy: "css", value: "#login" },
      ]),
    ).toBe("testid=login | css=#login");
  });
});

describe("describeSelector, Chrome DevTools Recorder's strategies", () => {
  it("shows aria and pierce as the recorder writes them, and chains outermost first", () => {
    expect(
      describeSelector([
        { strategy: "aria", value: 'Submit[role="button"]' },
        { strategy: "pierce", value: "#inner" },
        {
          strategy: "aria",
          value: "Submit",
          within: [
            { strategy: "css", value: "host-el" },
            { strategy: "pierce", value: "#panel" },
          ],
        },
      ]),
    ).toBe('aria/Submit[role="button"] | pierce/#inner | css=host-el >> pierce/#panel >> aria/Submit');
  });
});

describe("describeFrame", () => {
  it("quotes a selector and lists an index path", () => {
    expect(describeFrame("#outer >>> #frame")).toBe('"#outer >>> #frame"');
    expect(describeFrame([0, 2])).toBe("[0, 2]");
  });
});

describe("parseAriaValue", () => {
  it.each([
    ["Submit", { name: "Submit" }],
    ['Submit[role="button"]', { name: "Submit", role: "button" }],
    ["Submit [role='button']", { name: "Submit", role: "button" }],
    ['[role="button"]', { role: "button" }],
    ['[name="Sign  in"][role="link"]', { name: "Sign in", role: "link" }],
    ["  Two   words ", { name: "Two words" }],
    ["Items [3]", { name: "Items [3]" }],
    ['Say "hi"[role="button"]', { name: 'Say "hi"', role: "button" }],
    ['[role="butt\\"on"]', { role: 'butt"on' }],
  ])("reads %j", (value, expected) => {
    expect(parseAriaValue(value)).toEqual(expected);
  });

  it("refuses other attributes and an empty query", () => {
    expect(() => parseAriaValue('Submit[level="2"]')).toThrow('unknown ARIA attribute "level"');
    expect(() => parseAriaValue("   ")).toThrow("neither a name nor a role");
  });
});
