import { describe, expect, it } from "vitest";
import { randomBytesFast, randomString } from "./random.ts";

describe("randomBytesFast", () => {
  it("hands out bytes that are never handed out twice, across pool refills", () => {
    // 12-byte IVs: 4096 / 12 does not divide evenly, so this crosses refills mid-slice.
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const iv = randomBytesFast(12);
      expect(iv.length).toBe(12);
      seen.add(iv.toString("hex"));
    }
    expect(seen.size).toBe(5000);
  });

  it("returns a buffer of its own: later draws do not change an earlier one", () => {
    const first = randomBytesFast(16);
    const copy = Buffer.from(first);
    for (let i = 0; i < 1000; i++) randomBytesFast(16);
    expect(first.equals(copy)).toBe(true);
  });

  it("serves sizes beyond the pool directly", () => {
    const big = randomBytesFast(10_000);
    expect(big.length).toBe(10_000);
    // Not all zeros (allocUnsafe memory filled by the CSPRNG).
    expect(big.some((b) => b !== 0)).toBe(true);
  });

  it("is spread over every byte value", () => {
    const counts = new Array<number>(256).fill(0);
    for (const b of randomBytesFast(4000)) counts[b] = (counts[b] ?? 0) + 1;
    for (let i = 0; i < 200; i++) for (const b of randomBytesFast(20)) counts[b] = (counts[b] ?? 0) + 1;
    // 8000 bytes over 256 values: ~31 each; a stuck or short pool would leave many at 0.
    expect(counts.filter((c) => c === 0).length).toBeLessThan(3);
  });
});

describe("randomString", () => {
  it("maps bytes through the alphabet and refuses alphabets that would bias it", () => {
    const s = randomString(64, "01");
    expect(s).toMatch(/^[01]{64}$/);
    expect(() => randomString(8, "abc")).toThrow(RangeError);
    expect(() => randomString(5000, "01")).toThrow(RangeError);
  });
});
