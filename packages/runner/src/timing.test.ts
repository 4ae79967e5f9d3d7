import { describe, expect, it } from "vitest";
import { keyChord } from "./actions/keypress.ts";
import { realtimeDelayMs } from "./timing.ts";

describe("realtimeDelayMs", () => {
  const realtime = { timing: "realtime" as const, speed: 1, maxDelayMs: 5000 };
  it("waits nothing with fast timing or no recorded delay", () => {
    expect(realtimeDelayMs(800, { ...realtime, timing: "fast" })).toBe(0);
    expect(realtimeDelayMs(undefined, realtime)).toBe(0);
  });
  it("scales by speed and caps at maxDelayMs", () => {
    expect(realtimeDelayMs(800, realtime)).toBe(800);
    expect(realtimeDelayMs(800, { ...realtime, speed: 2 })).toBe(400);
    expect(realtimeDelayMs(800, { ...realtime, speed: 0.5 })).toBe(1600);
    expect(realtimeDelayMs(60_000, realtime)).toBe(5000);
  });
});

describe("keyChord", () => {
  it("puts modifiers before the key, once each", () => {
    expect(keyChord("K", ["Control", "Shift"])).toBe("Control+Shift+K");
    expect(keyChord("Enter")).toBe("Enter");
    expect(keyChord("Shift", ["Shift", "Shift"])).toBe("Shift");
  });
});
