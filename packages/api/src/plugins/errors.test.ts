import { describe, expect, it } from "vitest";
import { describeErrorForLog, isInputDataError, redactErrorMessage, sqlStateOf } from "./errors.ts";

describe("redactErrorMessage", () => {
  it.each([
    ['invalid input syntax for type integer: "12ab"', 'invalid input syntax for type integer: "…"'],
    ['date/time field value out of range: "0000-01-01T00:00:00.000Z"', 'date/time field value out of range: "…"'],
    ['a value "with "inner" quotes" leaks nothing', 'a value "…" leaks nothing'],
    ['an unclosed "quote and the rest', 'an unclosed "…'],
    ["reading 'secret'", "reading '…'"],
    ['invalid byte sequence for encoding "UTF8": 0xed 0xa0 0x80', 'invalid byte sequence for encoding "…": 0x…'],
    [
      'Failed query: insert into "projects" ("name") values ($1)\nparams: hunter2',
      'Failed query: insert into "projects" ("name") values ($1)',
    ],
  ])("%s", (message, redacted) => {
    expect(redactErrorMessage(message)).toBe(redacted);
  });

  it("cuts a long message", () => {
    expect(redactErrorMessage("x".repeat(10_000)).length).toBeLessThanOrEqual(501);
  });
});

describe("sqlStateOf and isInputDataError", () => {
  class PostgresError extends Error {
    readonly code: string;
    constructor(message: string, code: string) {
      super(message);
      this.code = code;
    }
  }

  it("finds the SQLSTATE through wrappers, and only a SQLSTATE", () => {
    const driver = new PostgresError('invalid input syntax: "x"', "22P02");
    const wrapped = new Error("Failed query: select $1\nparams: x", { cause: driver });
    expect(sqlStateOf(wrapped)).toBe("22P02");
    expect(sqlStateOf(Object.assign(new Error("pipe"), { code: "EPIPE" }))).toBeUndefined();
    expect(sqlStateOf(Object.assign(new Error("fastify"), { code: "FST_ERR_BAD_URL" }))).toBeUndefined();
    const cyclic: Error & { cause?: unknown } = new Error("cycle");
    cyclic.cause = cyclic;
    expect(sqlStateOf(cyclic)).toBeUndefined();
  });

  it.each([
    ["22P05", true],
    ["22021", true],
    ["22008", true],
    ["22003", true],
    ["23514", true],
    ["54000", true],
    ["23505", false],
    ["40001", false],
    ["57P01", false],
    ["08006", false],
  ])("%s is the input's fault: %s", (code, expected) => {
    expect(isInputDataError(code)).toBe(expected);
  });

  it("describes each link of the chain without the values", () => {
    const driver = new PostgresError('value "secret" is out of range', "22003");
    const described = describeErrorForLog(new Error("Failed query: select $1\nparams: secret", { cause: driver }));
    expect(described.map((link) => link.type)).toEqual(["Error", "PostgresError"]);
    expect(described[1]?.code).toBe("22003");
    expect(JSON.stringify(described)).not.toContain("secret");
  });
});
