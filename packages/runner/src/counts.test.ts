import { describe, expect, it } from "vitest";
import { countResults, countsProblem } from "./counts.ts";

describe("countResults", () => {
  it("counts by status and keeps the recording's total", () => {
    expect(countResults(5, [{ status: "passed" }, { status: "skipped" }, { status: "failed" }])).toEqual({
      total: 5,
      passed: 1,
      failed: 1,
      skipped: 1,
    });
  });
});

describe("countsProblem", () => {
  it("accepts consistent counts", () => {
    expect(countsProblem({ total: 3, passed: 2, failed: 0, skipped: 1 }, "passed")).toBeNull();
    expect(countsProblem({ total: 3, passed: 1, failed: 1, skipped: 0 }, "failed")).toBeNull();
    expect(countsProblem({ total: 3, passed: 0, failed: 0, skipped: 0 }, "aborted")).toBeNull();
  });

  it("rejects a pass that did not cover every action, and more results than actions", () => {
    expect(countsProblem({ total: 3, passed: 2, failed: 0, skipped: 0 }, "passed")).toBe(
      "a passing run must pass or skip all 3 actions, but 2 passed, 0 were skipped and 0 failed",
    );
    expect(countsProblem({ total: 2, passed: 2, failed: 1, skipped: 0 }, "passed")).toBe(
      "3 results reported for 2 actions",
    );
  });
});
