import { describe, expect, it } from "vitest";
import { ancestorTags, buildCandidates, elementKey, MAX_CANDIDATES } from "./selectors.ts";

const describeAll = (sources: Parameters<typeof buildCandidates>[0]): string[] =>
  buildCandidates(sources).candidates.map((c) => `${c.strategy}=${c.value}@${c.confidence}`);

describe("buildCandidates", () => {
  it("puts data-testid first, from either source, even when the recorder ranks it lower", () => {
    const result = describeAll({
      selectors: [
        { strategy: "id", value: "save", priority: 1, confidence: 90 },
        { strategy: "data-testid", value: "save-btn", priority: 5, confidence: 98 },
      ],
      selector: { css: "form > button", dataTestId: "save-legacy", priority: ["css", "dataTestId"] },
    });
    expect(result).toEqual(["testid=save-btn@98", "testid=save-legacy@95", "id=save@90", "css=form > button@60"]);
  });

  it("follows the legacy priority list, then adds keys it left out", () => {
    const result = describeAll({
      selector: {
        id: "email",
        name: "email",
        css: "form > input.email",
        xpath: "//input[@id='email']",
        xpathAbsolute: "/html/body/form/input[1]",
        textContains: "Email",
        position: { parent: "form.login", index: 1 },
        priority: ["name", "css", "id", "position"],
      },
    });
    expect(result).toEqual([
      "name=email@80",
      "css=form > input.email@60",
      "id=email@90",
      // index is 0-based; :nth-child counts from 1.
      "css=form.login > :nth-child(2)@20",
      "text-contains=Email@50",
      "xpath=//input[@id='email']@55",
      "xpath=/html/body/form/input[1]@30",
    ]);
  });

  it("orders selectors[] by priority and maps every strategy", () => {
    const { candidates, unknownStrategies } = buildCandidates({
      selectors: [
        { strategy: "src-pattern", value: "logo.png", priority: 9, confidence: 40 },
        { strategy: "css-semantic", value: ".btn:has-text('Save')", priority: 3, confidence: 70 },
        { strategy: "text-content", value: "Save", priority: 2, confidence: 75 },
        { strategy: "href-pattern", value: "/profile/", priority: 1, confidence: 82 },
        { strategy: "position", value: "form > :nth-child(4)", priority: 8, confidence: 30 },
        { strategy: "ariaLabel", value: "Save changes", priority: 4, confidence: 85 },
        { strategy: "visual-hash", value: "abc", priority: 0, confidence: 99 },
      ],
    });
    expect(candidates.map((c) => `${c.strategy}=${c.value}`)).toEqual([
      "href=/profile/",
      "text=Save",
      "css=.btn:has-text('Save')",
      "aria-label=Save changes",
      "css=form > :nth-child(4)",
      "src=logo.png",
    ]);
    expect(unknownStrategies).toEqual(["visual-hash"]);
  });

  it("drops empty values and duplicates, keeping the first (higher-priority) one", () => {
    const result = describeAll({
      selectors: [{ strategy: "id", value: "go", priority: 1, confidence: 90 }],
      selector: { id: "go", css: "  ", text: "", name: "go", priority: ["id", "css", "text", "name"] },
    });
    expect(result).toEqual(["id=go@90", "name=go@80"]);
  });

  it("keeps at most a dozen candidates", () => {
    const selectors = Array.from({ length: 30 }, (_, i) => ({ strategy: "css", value: `.c${i}`, priority: i }));
    expect(buildCandidates({ selectors }).candidates).toHaveLength(MAX_CANDIDATES);
  });

  it("adds alternativeSelectors last, below the unique-match confidence", () => {
    const result = describeAll({
      selector: { css: "a.nav", priority: ["css"] },
      alternativeSelectors: [{ text: "Home", xpath: "//a[text()='Home']", priority: 1 }],
    });
    expect(result).toEqual(["css=a.nav@60", "text=Home@40", "xpath=//a[text()='Home']@40"]);
  });

  it("yields nothing when every strategy is empty", () => {
    expect(buildCandidates({ selector: { css: "", priority: ["css"] } }).candidates).toEqual([]);
  });
});

describe("elementKey", () => {
  it("tells apart siblings that share a CSS path", () => {
    const a = { css: "div > input[type=checkbox]", xpathAbsolute: "/html/body/div[2]/input", priority: ["css"] };
    const b = { ...a, xpathAbsolute: "/html/body/div[3]/input" };
    expect(elementKey({ selector: a })).not.toBe(elementKey({ selector: b }));
    expect(elementKey({ selector: a })).toBe(elementKey({ selector: { ...a, validation: { verifiedAt: 1 } } }));
  });
});

describe("ancestorTags", () => {
  const tags = (sources: Parameters<typeof ancestorTags>[0]): string[] => [...ancestorTags(sources)].sort();

  it("reads every ancestor off the absolute XPath, the nearest off the CSS path and the parent", () => {
    expect(
      tags({ selector: { xpathAbsolute: "/html/body[1]/section[1]/ul[1]/li[2]/a[1]/img[1]", priority: [] } }),
    ).toEqual(["a", "body", "html", "li", "section", "ul"]);
    expect(
      tags({
        selector: { css: 'header > form#search.active > BUTTON[type="submit"] > span', priority: ["css"] },
      }),
    ).toEqual(["button", "form", "header"]);
    expect(
      tags({ selector: { xpath: "//img[1]", position: { parent: "a.card-link", index: 0 }, priority: [] } }),
    ).toEqual(["a"]);
    expect(
      tags({
        selectors: [
          { strategy: "position", value: "div.panel > :nth-child(5)" },
          { strategy: "css", value: "nav a.item > svg" },
          { strategy: "xpath", value: '//div[contains(@class, "menu")]/button[text()="Go"]' },
        ],
      }),
    ).toEqual(["a", "div", "nav"]);
  });

  it("does not count the element itself, siblings, or anything inside brackets and quotes", () => {
    expect(tags({ selector: { css: "a.nav", xpathAbsolute: "/a[1]", priority: [] } })).toEqual([]);
    expect(tags({ selector: { css: "label.option + input#agree", priority: [] } })).toEqual([]);
    expect(tags({ selector: { css: "div ~ p > span", priority: [] } })).toEqual(["p"]);
    expect(tags({ selector: { css: 'li:has(a > img) > span[title="a > b"]', priority: [] } })).toEqual(["li"]);
    expect(tags({ selector: { xpath: "//li[a/img]/span", priority: [] } })).toEqual(["li"]);
    expect(tags({ selector: { xpathAbsolute: "/html/body[1]/button[1]/*[name()='svg'][1]", priority: [] } })).toEqual([
      "body",
      "button",
      "html",
    ]);
  });

  it("ignores a selector that doesn't spell a plain path", () => {
    expect(tags({ selector: { css: "a > img, form > button > span", priority: [] } })).toEqual([]);
    expect(tags({ selector: { xpath: "//label[text()='Email']/following-sibling::input", priority: [] } })).toEqual([]);
    expect(tags({ selector: { xpath: "//a/img | //button/span", priority: [] } })).toEqual([]);
    expect(tags({ selector: { xpath: "../a/img", priority: [] } })).toEqual([]);
  });
});
