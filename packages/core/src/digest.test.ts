import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "./digest.ts";

describe("sha256Hex", () => {
  it.each(["", "cvk_abc", "ünïcødé ✓", "x".repeat(100_000)])("equals createHash('sha256') of %#", (input) => {
    expect(sha256Hex(input)).toBe(createHash("sha256").update(input, "utf8").digest("hex"));
  });
});
