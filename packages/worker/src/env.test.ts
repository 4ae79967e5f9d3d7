import { describe, expect, it } from "vitest";
import { parseWorkerEnv } from "./env.ts";

const BASE = { DATABASE_URL: "postgres://postgres@127.0.0.1:5432/test" };

describe("WORKER_PREPARE_NEXT_PAGE", () => {
  it("is on by default and can be turned off", () => {
    expect(parseWorkerEnv(BASE).WORKER_PREPARE_NEXT_PAGE).toBe(true);
    expect(parseWorkerEnv({ ...BASE, WORKER_PREPARE_NEXT_PAGE: "false" }).WORKER_PREPARE_NEXT_PAGE).toBe(false);
    expect(parseWorkerEnv({ ...BASE, WORKER_PREPARE_NEXT_PAGE: "0" }).WORKER_PREPARE_NEXT_PAGE).toBe(false);
  });

  it("names the variable when the value is not a boolean", () => {
    expect(() => parseWorkerEnv({ ...BASE, WORKER_PREPARE_NEXT_PAGE: "sometimes" })).toThrow(
      /WORKER_PREPARE_NEXT_PAGE: expected true or false, got "sometimes"/,
    );
  });
});
