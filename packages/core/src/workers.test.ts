import { describe, expect, it } from "vitest";
import {
  classifyInstallation,
  classifyWorker,
  decodeHeartbeat,
  encodeHeartbeat,
  HEALTH_RULES,
  type WorkerHeartbeat,
} from "./workers.ts";

const NOW = new Date("2026-11-23T10:00:00.000Z");

function heartbeat(overrides: Partial<WorkerHeartbeat> = {}): WorkerHeartbeat {
  return {
    name: "w-1",
    host: "host-a",
    pid: 42,
    concurrency: 2,
    activeRuns: 1,
    processed: 10,
    succeeded: 10,
    failed: 0,
    recentFinished: 10,
    recentErrored: 0,
    eventLoopLagP99Ms: 12,
    startedAt: new Date(NOW.getTime() - 60_000),
    heartbeatAt: new Date(NOW.getTime() - 1_000),
    intervalMs: 10_000,
    ...overrides,
  };
}

describe("classifyWorker", () => {
  it("calls a worker with a fresh heartbeat, few errors and a quick event loop healthy", () => {
    const health = classifyWorker(heartbeat(), NOW);
    expect(health).toMatchObject({ status: "healthy", reasons: [], heartbeatAgeMs: 1_000 });
  });

  it("calls a heartbeat later than 3 intervals unhealthy, judged by the worker's own interval", () => {
    expect(classifyWorker(heartbeat({ heartbeatAt: new Date(NOW.getTime() - 30_000) }), NOW).status).toBe("healthy");
    const late = classifyWorker(heartbeat({ heartbeatAt: new Date(NOW.getTime() - 30_001) }), NOW);
    expect(late.status).toBe("unhealthy");
    expect(late.reasons[0]).toMatch(/no heartbeat for 30001 ms/);
    // The same age is fine for a worker beating every 20 s.
    const slowBeat = heartbeat({ heartbeatAt: new Date(NOW.getTime() - 30_001), intervalMs: 20_000 });
    expect(classifyWorker(slowBeat, NOW).status).toBe("healthy");
  });

  it("calls more than half of the recent attempts ending in an infrastructure error degraded", () => {
    expect(classifyWorker(heartbeat({ recentFinished: 20, recentErrored: 10 }), NOW).status).toBe("healthy");
    const failing = classifyWorker(heartbeat({ recentFinished: 20, recentErrored: 11 }), NOW);
    expect(failing.status).toBe("degraded");
    expect(failing.reasons).toEqual(["11 of its last 20 attempts ended in an infrastructure error"]);
  });

  it("ignores the failure rate until the window holds enough attempts", () => {
    const fresh = heartbeat({ recentFinished: HEALTH_RULES.minRecentForFailureRate - 1, recentErrored: 4 });
    expect(classifyWorker(fresh, NOW).status).toBe("healthy");
    const enough = heartbeat({ recentFinished: HEALTH_RULES.minRecentForFailureRate, recentErrored: 3 });
    expect(classifyWorker(enough, NOW).status).toBe("degraded");
  });

  it("calls an event-loop delay p99 over 1 s degraded", () => {
    expect(classifyWorker(heartbeat({ eventLoopLagP99Ms: 1000 }), NOW).status).toBe("healthy");
    const stalled = classifyWorker(heartbeat({ eventLoopLagP99Ms: 1500.4 }), NOW);
    expect(stalled.status).toBe("degraded");
    expect(stalled.reasons).toEqual(["event-loop delay p99 1500 ms"]);
  });

  it("keeps the most severe verdict and every reason", () => {
    const both = classifyWorker(
      heartbeat({ heartbeatAt: new Date(NOW.getTime() - 60_000), eventLoopLagP99Ms: 2000 }),
      NOW,
    );
    expect(both.status).toBe("unhealthy");
    expect(both.reasons).toHaveLength(2);
  });
});

describe("classifyInstallation", () => {
  const up = { database: "up", redis: "up" } as const;

  it("is unhealthy when Postgres or Redis is down, whatever the workers", () => {
    const workers = [{ name: "w-1", status: "healthy" as const }];
    expect(classifyInstallation({ ...up, database: "down", backlog: 0, workers })).toEqual({
      status: "unhealthy",
      reasons: ["the database does not answer"],
    });
    expect(classifyInstallation({ ...up, redis: "down", backlog: undefined, workers }).status).toBe("unhealthy");
  });

  it("is degraded when a worker is degraded or unhealthy", () => {
    const result = classifyInstallation({
      ...up,
      backlog: 0,
      workers: [
        { name: "w-1", status: "healthy" },
        { name: "w-2", status: "unhealthy" },
      ],
    });
    expect(result).toEqual({ status: "degraded", reasons: ["worker w-2 is unhealthy"] });
  });

  it("is degraded when runs wait and no healthy worker can take them", () => {
    expect(classifyInstallation({ ...up, backlog: 3, workers: [] })).toEqual({
      status: "degraded",
      reasons: ["3 run(s) waiting and no healthy worker"],
    });
  });

  it("is healthy when scaled to zero with nothing waiting, or when healthy workers serve a backlog", () => {
    expect(classifyInstallation({ ...up, backlog: 0, workers: [] }).status).toBe("healthy");
    expect(classifyInstallation({ ...up, backlog: 5, workers: [{ name: "w-1", status: "healthy" }] }).status).toBe(
      "healthy",
    );
  });
});

describe("heartbeat encoding", () => {
  it("round-trips through Redis hash fields", () => {
    const original = heartbeat({ lastError: "browser closed", lastErrorAt: new Date(NOW.getTime() - 5_000) });
    expect(decodeHeartbeat(encodeHeartbeat(original))).toEqual(original);
    expect(decodeHeartbeat(encodeHeartbeat(heartbeat()))).toEqual(heartbeat());
  });

  it("refuses a hash that is missing fields", () => {
    expect(decodeHeartbeat({})).toBeUndefined();
    expect(decodeHeartbeat({ name: "w-1", pid: "x" })).toBeUndefined();
  });
});
