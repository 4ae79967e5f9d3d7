import { classifyWorker, HEALTH_RULES } from "@conveyor/core";
import { describe, expect, it } from "vitest";
import { WorkerStats } from "./stats.ts";

const NOW = new Date("2026-11-23T10:00:00.000Z");

describe("WorkerStats", () => {
  it("counts verdicts as succeeded and errors as failed, keeping the last error", () => {
    const stats = new WorkerStats(() => NOW);
    stats.attemptEnded({ status: "passed", durationMs: 10 });
    stats.attemptEnded({ status: "failed", kind: "test_failure", message: "element not found", durationMs: 10 });
    stats.attemptEnded({ status: "cancelled", kind: "cancelled", message: "Cancelled by request", durationMs: 10 });
    stats.attemptEnded({ status: "retried", kind: "transient", message: "browser closed", durationMs: 10 });
    stats.attemptEnded({ status: "errored", kind: "permanent", message: "invalid recording", durationMs: 10 });
    expect(stats).toMatchObject({ processed: 5, succeeded: 3, failed: 2, lastError: "invalid recording" });
    expect(stats.lastErrorAt).toEqual(NOW);
    // Only infrastructure errors count against the worker's health: a bad recording is not its fault.
    expect(stats.recentFinished).toBe(5);
    expect(stats.recentErrored).toBe(1);
  });

  it("remembers only the last 20 attempts for the failure-rate rule", () => {
    const stats = new WorkerStats();
    for (let i = 0; i < 15; i++) stats.attemptEnded({ status: "retried", kind: "recoverable", durationMs: 1 });
    expect(stats.recentErrored).toBe(15);
    for (let i = 0; i < 10; i++) stats.attemptEnded({ status: "passed", durationMs: 1 });
    expect(stats.recentFinished).toBe(HEALTH_RULES.recentWindow);
    expect(stats.recentErrored).toBe(10);
    expect(stats.processed).toBe(25);
  });

  it("feeds a heartbeat the health rules call degraded once most recent attempts crash", () => {
    const stats = new WorkerStats();
    for (let i = 0; i < 4; i++) stats.attemptEnded({ status: "passed", durationMs: 1 });
    for (let i = 0; i < 5; i++) stats.attemptEnded({ status: "retried", kind: "transient", durationMs: 1 });
    const health = classifyWorker(
      {
        name: "w-1",
        host: "h",
        pid: 1,
        concurrency: 1,
        activeRuns: 0,
        processed: stats.processed,
        succeeded: stats.succeeded,
        failed: stats.failed,
        recentFinished: stats.recentFinished,
        recentErrored: stats.recentErrored,
        eventLoopLagP99Ms: 0,
        startedAt: NOW,
        heartbeatAt: NOW,
        intervalMs: 10_000,
      },
      NOW,
    );
    expect(health.status).toBe("degraded");
  });
});
