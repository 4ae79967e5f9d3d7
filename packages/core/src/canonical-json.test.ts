import { describe, expect, it } from "vitest";
import { canonicalJson } from "./canonical-json.ts";

describe("canonicalJson", () => {
  it("ignores key order at every level but keeps array order", () => {
    const a = { b: 1, a: { d: [2, { y: 1, x: 2 }], c: null } };
    const b = { a: { c: null, d: [2, { x: 2, y: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"c":null,"d":[2,{"x":2,"y":1}]},"b":1}');
    expect(canonicalJson([1, 2])).not.toBe(canonicalJson([2, 1]));
  });
});

describe("canonicalJson matches JSON.stringify of the key-sorted value", () => {
  function sorted(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(sorted);
    if (value !== null && typeof value === "object" && !(value instanceof Date)) {
      return Object.fromEntries(
        Object.keys(value)
          .sort()
          .map((k) => [k, sorted((value as Record<string, unknown>)[k])]),
      );
    }
    return value;
  }
  it.each([
    ["strings needing escapes", { 'q"k': 'a "quoted" \\ line\n\u2028', é: "ü" }],
    ["undefined and functions", { a: undefined, b: () => 1, c: [undefined, () => 1, 3] }],
    ["numbers", { n: [0, -0, 1.5, 1e21, Number.NaN, Number.POSITIVE_INFINITY] }],
    ["dates (toJSON)", { at: new Date("2026-11-23T12:00:00.000Z") }],
    ["empty containers and null", { o: {}, a: [], n: null, nested: [[], [{}]] }],
    ["top-level primitives", "text"],
  ])("%s", (_label, value) => {
    expect(canonicalJson(value)).toBe(JSON.stringify(sorted(value)));
  });
});
