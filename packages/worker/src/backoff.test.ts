import { RunError } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { runBackoffStrategy } from "./run-worker.ts";

const job = { opts: { backoff: { type: "run-retry", delay: 60_000 } } } as never;

describe("the queue's backoff strategy", () => {
  it("returns the delay the processor decided and wrote in the event, not a new draw", () => {
    // A draw of its own would land anywhere in 30–60 s; the processor's decision is what counts.
    const decided = new RunError("recoverable", "net::ERR_CONNECTION_REFUSED", { retryDelayMs: 41_234 });
    expect(runBackoffStrategy(1, decided, job)).toBe(41_234);
    expect(runBackoffStrategy(1, new RunError("transient", "browser went away", { retryDelayMs: 0 }), job)).toBe(0);
  });

  it("classifies an error the processor did not (none should reach it) the processor's way: transient, at once", () => {
    expect(runBackoffStrategy(2, new Error("ECONNRESET"), job)).toBe(0);
    expect(runBackoffStrategy(2, undefined, job)).toBe(0);
  });
});
