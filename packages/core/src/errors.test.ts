import { describe, expect, it } from "vitest";
import {
  API_ERROR_STATUS,
  ApiError,
  dispositionFor,
  ERROR_KINDS,
  type ErrorDisposition,
  type ErrorKind,
  RunError,
} from "./errors.ts";

const EXPECTED: Record<ErrorKind, ErrorDisposition> = {
  test_failure: { action: "finish", status: "failed" },
  permanent: { action: "finish", status: "errored" },
  cancelled: { action: "finish", status: "cancelled" },
  transient: { action: "retry", delay: "immediate" },
  recoverable: { action: "retry", delay: "backoff" },
};

describe("dispositionFor", () => {
  it("covers every error kind", () => {
    expect([...ERROR_KINDS].sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(ERROR_KINDS)("maps %s", (kind) => {
    expect(dispositionFor(kind)).toEqual(EXPECTED[kind]);
  });

  it("never retries a test failure", () => {
    expect(dispositionFor("test_failure").action).toBe("finish");
  });
});

describe("RunError", () => {
  it.each(ERROR_KINDS)("%s is retryable exactly when its disposition retries", (kind) => {
    expect(new RunError(kind, "x").retryable).toBe(dispositionFor(kind).action === "retry");
  });

  it("keeps its cause", () => {
    const cause = new Error("socket hang up");
    const error = new RunError("transient", "browser crashed", { cause });
    expect(error.cause).toBe(cause);
    expect(error.name).toBe("RunError");
  });
});

describe("ApiError", () => {
  it("takes its status from the code", () => {
    for (const [code, status] of Object.entries(API_ERROR_STATUS)) {
      expect(new ApiError(code as keyof typeof API_ERROR_STATUS, "m").statusCode).toBe(status);
    }
    expect(new ApiError("idempotency_key_reused", "m").statusCode).toBe(422);
  });
});
