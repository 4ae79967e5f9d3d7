import { describe, expect, it } from "vitest";
import { ID_PREFIXES, type IdKind, isId, newId } from "./ids.ts";

const KINDS = Object.keys(ID_PREFIXES) as IdKind[];

describe("newId", () => {
  it.each(KINDS)("starts %s ids with their prefix and 26 base32 characters", (kind) => {
    const id = newId(kind);
    expect(id.startsWith(`${ID_PREFIXES[kind]}_`)).toBe(true);
    expect(id).toMatch(/^[a-z]{3}_[0-9a-hjkmnp-tv-z]{26}$/);
    expect(isId(kind, id)).toBe(true);
  });

  it("sorts by creation time, whatever the random part", () => {
    const times = [0, 1, 31, 32, 1_000, 1_700_000_000_000, 1_700_000_000_001, 1_800_000_000_000, 2 ** 47];
    const ids = times.map((t) => newId("run", t));
    expect([...ids].sort()).toEqual(ids);
    // Many ids in the same millisecond are still distinct.
    const same = new Set(Array.from({ length: 1000 }, () => newId("run", 1_700_000_000_000)));
    expect(same.size).toBe(1000);
  });

  it("encodes the time in the first 10 characters", () => {
    const a = newId("run", 1_700_000_000_000).slice(4, 14);
    const b = newId("run", 1_700_000_000_000).slice(4, 14);
    expect(a).toBe(b);
    expect(newId("run", 1_700_000_000_001).slice(4, 14) > a).toBe(true);
  });
});

describe("isId", () => {
  it("rejects ids of another kind and malformed values", () => {
    const run = newId("run");
    expect(isId("project", run)).toBe(false);
    expect(isId("run", run.toUpperCase())).toBe(false);
    expect(isId("run", `${run}x`)).toBe(false);
    expect(isId("run", run.slice(0, -1))).toBe(false);
    expect(isId("run", "run_")).toBe(false);
    expect(isId("run", "")).toBe(false);
    // i, l, o and u are not in the alphabet
    expect(isId("run", `run_${"i".repeat(26)}`)).toBe(false);
    expect(isId("run", `run_${"0".repeat(26)}`)).toBe(true);
  });
});
