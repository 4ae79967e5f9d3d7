import { describe, expect, it } from "vitest";
import { capacityWaitMs } from "./processor.ts";

describe("capacityWaitMs", () => {
  it("doubles from about a second up to ten, with jitter between half and all of it", () => {
    expect(capacityWaitMs(0, () => 0)).toBe(500);
    expect(capacityWaitMs(0, () => 1)).toBe(1000);
    expect(capacityWaitMs(1, () => 1)).toBe(2000);
    expect(capacityWaitMs(3, () => 1)).toBe(8000);
    expect(capacityWaitMs(4, () => 1)).toBe(10_000);
    expect(capacityWaitMs(50, () => 1)).toBe(10_000);
    expect(capacityWaitMs(50, () => 0)).toBe(5000);
  });
});
