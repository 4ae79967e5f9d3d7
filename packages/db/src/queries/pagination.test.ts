import { describe, expect, it } from "vitest";
import { decodeCursor, encodeCursor } from "./pagination.ts";

/** A cursor as a client could craft it: base64url of any JSON. */
function craft(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

describe("decodeCursor", () => {
  it("reads back what encodeCursor wrote, at both ends of the range it accepts", () => {
    for (const iso of ["2026-11-23T12:00:00.123Z", "1970-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"]) {
      const at = new Date(iso);
      expect(decodeCursor(encodeCursor(at, "run_01jd5v2k8h0000000000000000"))).toEqual({
        createdAt: at,
        id: "run_01jd5v2k8h0000000000000000",
      });
    }
  });

  it.each([
    ["the latest JS date (+275760)", "+275760-09-13T00:00:00.000Z"],
    ["the earliest JS date (-271821)", "-271821-04-20T00:00:00.000Z"],
    ["year 0000", "0000-01-01T00:00:00.000Z"],
    ["before the Unix epoch", "1969-12-31T23:59:59.999Z"],
    ["after year 9999", "+010000-01-01T00:00:00.000Z"],
    ["not a date", "yesterday"],
  ])("refuses a date Postgres cannot take back or no row has: %s", (_label, iso) => {
    expect(decodeCursor(craft([iso, "run_x"]))).toBeNull();
  });

  it.each([
    ["a NUL", "run_\u0000"],
    ["a lone surrogate", "run_\ud800"],
    ["a quote", "run_'x"],
    ["an empty id", ""],
    ["an id longer than 64 characters", `run_${"a".repeat(61)}`],
  ])("refuses an id that cannot be one of ours: %s", (_label, id) => {
    expect(decodeCursor(craft(["2026-01-01T00:00:00.000Z", id]))).toBeNull();
  });

  it.each([
    ["not base64 JSON", "%%%"],
    ["an object", craft({ createdAt: "2026-01-01T00:00:00.000Z", id: "run_x" })],
    ["three items", craft(["2026-01-01T00:00:00.000Z", "run_x", 1])],
    ["a number for the date", craft([8.64e15, "run_x"])],
  ])("refuses what is not a cursor: %s", (_label, cursor) => {
    expect(decodeCursor(cursor)).toBeNull();
  });
});
