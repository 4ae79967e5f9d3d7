import { describe, expect, it } from "vitest";
import { createTestClock } from "./clock.ts";

describe("createTestClock", () => {
  it("stands still at its start and moves only when advanced", () => {
    const clock = createTestClock(1_000);
    expect(clock.now()).toBe(1_000);
    expect(clock.now()).toBe(1_000);
    expect(clock.advance(4_999)).toBe(5_999);
    expect(clock.now()).toBe(5_999);
    expect(clock.date()).toEqual(new Date(5_999));
    // later() looks ahead without moving the clock.
    expect(clock.later(1)).toEqual(new Date(6_000));
    expect(clock.now()).toBe(5_999);
  });

  it("starts at a Date, and its now can be passed around as a plain function", () => {
    const clock = createTestClock(new Date("2026-01-01T00:00:00Z"));
    const { now } = clock;
    clock.advance(60_000);
    expect(new Date(now()).toISOString()).toBe("2026-01-01T00:01:00.000Z");
  });

  it("without a start, follows the wall clock plus what was advanced", () => {
    const clock = createTestClock();
    const before = Date.now();
    const seen = clock.now();
    expect(seen).toBeGreaterThanOrEqual(before);
    expect(seen).toBeLessThanOrEqual(Date.now());
    clock.advance(3_600_000);
    const ahead = clock.now();
    expect(ahead).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(ahead).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expect(clock.later(5_000).getTime()).toBeGreaterThanOrEqual(before + 3_605_000);
  });

  it("refuses to go back or by a non-number", () => {
    const clock = createTestClock(0);
    expect(() => clock.advance(-1)).toThrow(/advance\(ms\): ms must be a finite number ≥ 0, got -1/);
    expect(() => clock.advance(Number.NaN)).toThrow(RangeError);
    expect(clock.now()).toBe(0);
  });
});
