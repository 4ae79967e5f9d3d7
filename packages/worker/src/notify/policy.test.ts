import { describe, expect, it } from "vitest";
import { DEFAULT_RETRY_SCHEDULE_MS, decide, MAX_RETRY_AFTER_MS, retryAfterMs } from "./policy.ts";

const now = new Date("2026-03-01T12:00:00Z");
const response = (status: number, retryAfter?: string) => ({ kind: "response" as const, status, body: "", retryAfter });

describe("the delivery policy", () => {
  it("delivers on a 2xx only, and retries anything else on the schedule until it is used up", () => {
    expect(decide(1, response(204), DEFAULT_RETRY_SCHEDULE_MS, now).result).toBe("delivered");
    expect(decide(1, { kind: "accepted", reply: "250 OK" }, DEFAULT_RETRY_SCHEDULE_MS, now).result).toBe("delivered");
    const waits = [1, 2, 3, 4, 5, 6, 7].map((attempt) =>
      decide(attempt, response(500), DEFAULT_RETRY_SCHEDULE_MS, now),
    );
    expect(waits.map((d) => [d.result, d.delayMs])).toEqual(
      [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000].map((ms) => ["retry", ms]),
    );
    expect(decide(1, response(302), DEFAULT_RETRY_SCHEDULE_MS, now)).toMatchObject({
      result: "retry",
      error: "HTTP 302",
    });
    expect(decide(8, response(500), DEFAULT_RETRY_SCHEDULE_MS, now)).toMatchObject({
      result: "failed",
      error: "HTTP 500 (attempt 8 of 8: no more attempts)",
    });
    const timeout = {
      kind: "error" as const,
      message: "Could not reach x: ERR_CONNECTION_TIMED_OUT",
      permanent: false,
    };
    expect(decide(2, timeout, DEFAULT_RETRY_SCHEDULE_MS, now)).toMatchObject({ result: "retry", delayMs: 300_000 });
    const blocked = { kind: "error" as const, message: "Blocked by the egress policy", permanent: true };
    expect(decide(1, blocked, DEFAULT_RETRY_SCHEDULE_MS, now)).toMatchObject({ result: "failed" });
  });

  it("disables the channel on 410 and stops", () => {
    const decision = decide(1, response(410), DEFAULT_RETRY_SCHEDULE_MS, now);
    expect(decision.result).toBe("failed");
    expect(decision.disableChannel).toMatch(/410 Gone/);
  });

  it("waits what Retry-After says on 429 (seconds or an HTTP date, capped), else the schedule", () => {
    expect(decide(1, response(429, "120"), DEFAULT_RETRY_SCHEDULE_MS, now).delayMs).toBe(120_000);
    expect(decide(1, response(429, "Sun, 01 Mar 2026 12:01:30 GMT"), DEFAULT_RETRY_SCHEDULE_MS, now).delayMs).toBe(
      90_000,
    );
    expect(decide(1, response(429), DEFAULT_RETRY_SCHEDULE_MS, now).delayMs).toBe(5_000);
    expect(decide(1, response(429, "soon"), DEFAULT_RETRY_SCHEDULE_MS, now).delayMs).toBe(5_000);
    expect(retryAfterMs("999999999", now)).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterMs("Sat, 28 Feb 2026 12:00:00 GMT", now)).toBe(0);
    expect(decide(8, response(429, "1"), DEFAULT_RETRY_SCHEDULE_MS, now).result).toBe("failed");
  });
});
