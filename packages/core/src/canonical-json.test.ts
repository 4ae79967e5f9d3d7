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

describe("canonicalJson on what JSON.stringify does not take plainly", () => {
  it("passes toJSON its key and unboxes primitives, as JSON.stringify does", () => {
    const keys: string[] = [];
    const spy = {
      toJSON(key: string) {
        keys.push(key);
        return { z: 1, a: [Object(2), Object("s"), Object(false)] };
      },
    };
    expect(canonicalJson({ k: spy, list: [spy] })).toBe(
      '{"k":{"a":[2,"s",false],"z":1},"list":[{"a":[2,"s",false],"z":1}]}',
    );
    expect(keys).toEqual(["k", "0"]);
  });

  it("throws a TypeError on a cycle, but writes an object met twice without one", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = { back: cyclic };
    expect(() => canonicalJson(cyclic)).toThrow(TypeError);
    const shared = { b: 2, a: 1 };
    expect(canonicalJson({ x: shared, y: [shared] })).toBe('{"x":{"a":1,"b":2},"y":[{"a":1,"b":2}]}');
  });

  it("throws on a BigInt and returns undefined for undefined, as JSON.stringify does", () => {
    expect(() => canonicalJson({ n: 1n })).toThrow(TypeError);
    expect(canonicalJson(undefined)).toBe(JSON.stringify(undefined));
  });

  it("does not overflow the stack on 200,000 levels of nesting", () => {
    const depth = 200_000;
    const arrays = JSON.parse(`${"[".repeat(depth)}${"]".repeat(depth)}`) as unknown;
    expect(canonicalJson(arrays)).toBe(`${"[".repeat(depth)}${"]".repeat(depth)}`);
    const objects: Record<string, unknown> = {};
    let at = objects;
    for (let i = 0; i < depth; i++) {
      const next: Record<string, unknown> = {};
      at.b = next;
      at.a = i;
      at = next;
    }
    const text = canonicalJson(objects);
    expect(text.startsWith('{"a":0,"b":{"a":1,"b":{"a":2,')).toBe(true);
    expect(text.endsWith(`{"a":${depth - 1},"b":{}${"}".repeat(depth)}`)).toBe(true);
  });
});
