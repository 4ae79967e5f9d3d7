import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrowserPool } from "../src/pool.ts";
import { runRecording, testChromiumPath } from "./helpers.ts";

// Selector strategies and the confidence rule, on real Chromium against /lists.

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

describe("selector strategies", () => {
  it("finds elements by text-contains, placeholder, href and src", async () => {
    const result = await runRecording(pool, {
      name: "strategies",
      startUrl: `${site.url}/lists`,
      actions: [
        {
          type: "assert",
          check: "elementText",
          selector: [{ strategy: "text-contains", value: "longer SENTENCE" }],
          expected: "A longer sentence here",
        },
        { type: "input", selector: [{ strategy: "placeholder", value: "Your email" }], value: "a@b.c" },
        {
          type: "assert",
          check: "elementHasValue",
          selector: [{ strategy: "placeholder", value: "Your email" }],
          expected: "a@b.c",
        },
        { type: "assert", check: "elementVisible", selector: [{ strategy: "src", value: "pixel.png" }] },
        { type: "click", selector: [{ strategy: "href", value: "user=link" }] },
        { type: "assert", check: "urlContains", expected: "/welcome?user=link" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
    expect(result.actions.map((action) => action.selectorUsed)).toEqual([
      "text-contains=longer SENTENCE",
      "placeholder=Your email",
      "placeholder=Your email",
      "src=pixel.png",
      "href=user=link",
      undefined,
    ]);
  });

  it("clicks an element that only has a data-testid, with a high-confidence candidate", async () => {
    const result = await runRecording(pool, {
      name: "testid only",
      startUrl: `${site.url}/lists`,
      actions: [
        { type: "click", selector: [{ strategy: "testid", value: "only", confidence: 95 }] },
        { type: "assert", check: "elementText", selector: "#only-result", expected: "clicked" },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.actions[0]).toMatchObject({ selectorUsed: "testid=only", selectorsTried: ["testid=only"] });
  });

  it("passes over an ambiguous high-confidence candidate for the next one", async () => {
    const result = await runRecording(pool, {
      name: "ambiguous",
      startUrl: `${site.url}/lists`,
      actions: [
        {
          type: "assert",
          check: "elementText",
          selector: [
            { strategy: "testid", value: "dup", confidence: 90 },
            { strategy: "text", value: "Dup 2" },
          ],
          expected: "Dup 2",
        },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.actions[0]).toMatchObject({
      selectorUsed: "text=Dup 2",
      selectorsTried: ["testid=dup (3 matches, needs exactly 1)", "text=Dup 2"],
    });
  });

  it("lets a low-confidence candidate use its first match", async () => {
    const result = await runRecording(pool, {
      name: "low confidence",
      startUrl: `${site.url}/lists`,
      actions: [
        {
          type: "assert",
          check: "elementText",
          selector: [{ strategy: "testid", value: "dup", confidence: 40 }],
          expected: "Dup 1",
        },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.actions[0]?.selectorUsed).toBe("testid=dup");
  });

  it("fails listing what every candidate matched", async () => {
    const result = await runRecording(pool, {
      name: "nothing usable",
      startUrl: `${site.url}/lists`,
      actions: [
        {
          type: "click",
          timeoutMs: 300,
          selector: [
            { strategy: "testid", value: "dup", confidence: 80 },
            { strategy: "id", value: "missing" },
            { strategy: "css", value: "[[broken" },
          ],
        },
      ],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error?.message).toMatch(
      /^No element matched selector\(s\): testid=dup \| id=missing \| css=\[\[broken within 300 ms; tried: testid=dup \(3 matches, needs exactly 1\), id=missing \(0 matches\), css=\[\[broken \(invalid: .+\)$/,
    );
    expect(result.actions[0]?.selectorsTried).toEqual([
      "testid=dup (3 matches, needs exactly 1)",
      "id=missing",
      "css=[[broken",
    ]);
  });
});

describe("waiting for an element that appears late", () => {
  it("finds it through a candidate list whose first candidate is malformed, and reports both", async () => {
    const result = await runRecording(pool, {
      name: "late element",
      startUrl: `${site.url}/slow?ms=400`,
      actions: [
        {
          type: "assert",
          check: "elementText",
          selector: [
            { strategy: "css", value: "div[[[" },
            { strategy: "id", value: "done" },
          ],
          expected: "done",
          timeoutMs: 10_000,
        },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
    expect(result.actions[0]?.selectorUsed).toBe("id=done");
    expect(result.actions[0]?.selectorsTried).toEqual(["css=div[[[", "id=done"]);
  });

  it("sees a URL reached by a navigation the previous action started", async () => {
    const result = await runRecording(pool, {
      name: "url after click",
      startUrl: `${site.url}/lists`,
      actions: [
        { type: "click", selector: [{ strategy: "href", value: "user=link" }] },
        { type: "assert", check: "urlContains", expected: "/welcome?user=link", timeoutMs: 10_000 },
        { type: "assert", check: "urlMatch", expected: `${site.url}/welcome?user=link`, timeoutMs: 10_000 },
      ],
    });
    expect(result.error).toBeUndefined();
    expect(result.outcome).toBe("passed");
  });

  it("fails a URL check that never holds with the URL it saw", async () => {
    const result = await runRecording(pool, {
      name: "wrong url",
      startUrl: `${site.url}/lists`,
      actions: [{ type: "assert", check: "urlContains", expected: "/nowhere", timeoutMs: 300 }],
    });
    expect(result.outcome).toBe("failed");
    expect(result.error?.message).toContain(`Expected URL to contain "/nowhere" but was "${site.url}/lists"`);
  });
});
