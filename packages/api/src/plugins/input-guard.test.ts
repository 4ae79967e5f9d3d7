import { describe, expect, it } from "vitest";
import { findInputProblem, MAX_INPUT_DEPTH } from "./input-guard.ts";

function nested(levels: number): unknown {
  let value: unknown = "leaf";
  for (let i = 0; i < levels; i++) value = i % 2 ? [value] : { a: value };
  return value;
}

describe("findInputProblem", () => {
  it("accepts ordinary input, odd but well-formed unicode included", () => {
    expect(
      findInputProblem({ name: "checkout 🛒 e\u0301 \u202e\ufeff", list: [1, null, true, { x: "" }] }, "body"),
    ).toBeNull();
    expect(findInputProblem(undefined, "body")).toBeNull();
  });

  it("names the path of a NUL or a lone surrogate in a value", () => {
    const body = { recording: { actions: [{}, {}, { name: "a\u0000b" }] } };
    expect(findInputProblem(body, "body")).toEqual({
      field: "body.recording.actions[2].name",
      message: "contains a NUL character",
    });
    expect(findInputProblem({ variables: { PASSWORD: "\ud800" } }, "body")).toEqual({
      field: "body.variables.PASSWORD",
      message: "contains a lone surrogate (not well-formed UTF-16)",
    });
    expect(findInputProblem("\udc00\ud800", "headers.idempotency-key")?.field).toBe("headers.idempotency-key");
    expect(findInputProblem({ ok: "\ud83d\ude00" }, "body")).toBeNull();
  });

  it("names the object holding a bad key, without quoting the key", () => {
    expect(findInputProblem({ variables: { "A\u0000": "x" } }, "body")).toEqual({
      field: "body.variables",
      message: "has a key that contains a NUL character",
    });
  });

  it("reports the first problem in document order", () => {
    expect(findInputProblem({ a: ["ok", "\u0000"], b: "\u0000" }, "body")?.field).toBe("body.a[1]");
  });

  it(`accepts ${MAX_INPUT_DEPTH} levels of nesting and refuses one more`, () => {
    expect(findInputProblem(nested(MAX_INPUT_DEPTH), "body")).toBeNull();
    expect(findInputProblem(nested(MAX_INPUT_DEPTH + 1), "body")).toEqual({
      field: "body",
      message: `nested deeper than ${MAX_INPUT_DEPTH} levels`,
    });
  });

  it("walks 200,000 levels without overflowing the stack", () => {
    const depth = 200_000;
    const deep = JSON.parse(`${"[".repeat(depth)}${"]".repeat(depth)}`) as unknown;
    expect(findInputProblem(deep, "body", Number.POSITIVE_INFINITY)).toBeNull();
    expect(findInputProblem(deep, "body")?.message).toBe(`nested deeper than ${MAX_INPUT_DEPTH} levels`);
  });
});
