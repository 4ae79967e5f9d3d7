import { describe, expect, it } from "vitest";
import { cssEscapeIdentifier, cssString, describeSelector } from "./selectors.ts";

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
