import { describe, expect, it } from "vitest";
import { isDriverConnectionLoss } from "./process-guards.ts";

const driverStack =
  "PostgresError: terminating connection\n    at ErrorResponse (file:///app/node_modules/.pnpm/postgres@3.4.9/node_modules/postgres/src/connection.js:815:30)";

describe("isDriverConnectionLoss", () => {
  it("recognizes a lost connection raised inside postgres.js", () => {
    expect(isDriverConnectionLoss(Object.assign(new Error("x"), { code: "57P01", stack: driverStack }))).toBe(true);
    expect(
      isDriverConnectionLoss(Object.assign(new Error("x"), { code: "CONNECTION_CLOSED", stack: driverStack })),
    ).toBe(true);
  });

  it("lets every other rejection crash the process", () => {
    expect(isDriverConnectionLoss(new Error("bug"))).toBe(false);
    expect(
      isDriverConnectionLoss(Object.assign(new Error("x"), { code: "57P01", stack: "at ours (/app/src/x.ts:1:1)" })),
    ).toBe(false);
    expect(isDriverConnectionLoss(Object.assign(new Error("x"), { code: "23505", stack: driverStack }))).toBe(false);
    expect(isDriverConnectionLoss("string reason")).toBe(false);
  });
});
