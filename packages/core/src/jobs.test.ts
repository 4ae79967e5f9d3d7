import { describe, expect, it } from "vitest";
import { RunError, toRunError } from "./errors.ts";
import { buildJob, enqueueBuilt, JOB_CATALOG, type JobOptions, readJob, retryDelayMs } from "./jobs.ts";

const policy = { attempts: 4, backoffMs: 1000 };

describe("the job catalog", () => {
  it("builds a run job: validated payload, the catalog's name and options", () => {
    const job = buildJob("run", { runId: "run_1", projectId: "prj_1" }, { priority: 3, policy });
    expect(job).toEqual({
      name: "run",
      data: { runId: "run_1", projectId: "prj_1" },
      opts: {
        jobId: "run_1",
        priority: 3,
        attempts: 4,
        backoff: { type: "run-retry", delay: 1000 },
        removeOnComplete: { age: 3600, count: 1000 },
        removeOnFail: { age: 86_400, count: 5000 },
      },
    });
    expect(JOB_CATALOG.run.queue).toBe("runs");
  });

  it("builds a delivery job: one id per attempt, delayed until it is due, never retried by BullMQ", () => {
    const job = buildJob("deliver", { deliveryId: "dlv_1", projectId: "prj_1", attempt: 3 }, { delayMs: 5000 });
    expect(job).toEqual({
      name: "deliver",
      data: { deliveryId: "dlv_1", projectId: "prj_1", attempt: 3 },
      opts: { jobId: "dlv_1-3", attempts: 1, delay: 5000, removeOnComplete: true, removeOnFail: true },
    });
    expect(
      buildJob("deliver", { deliveryId: "dlv_1", projectId: "prj_1", attempt: 1 }, { delayMs: 0 }).opts,
    ).not.toHaveProperty("delay");
    expect(JOB_CATALOG.deliver.queue).toBe("notifications");
  });

  it("refuses to build a job whose payload does not match, naming the field", () => {
    expect(() => buildJob("run", { runId: "", projectId: "prj_1" }, { priority: 3, policy })).toThrow(/runId/);
  });

  it("reads a picked-up job with the same schema; another name or a bad payload is refused", () => {
    expect(readJob("run", { name: "run", data: { runId: "run_1", projectId: "prj_1", capacityWaits: 2 } })).toEqual({
      ok: true,
      payload: { runId: "run_1", projectId: "prj_1", capacityWaits: 2 },
    });
    expect(readJob("run", { name: "notify", data: { runId: "run_1", projectId: "prj_1" } })).toEqual({
      ok: false,
      message: 'expected a "run" job, got "notify"',
    });
    const bad = readJob("run", { name: "run", data: { runId: 7 } });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && bad.message).toMatch(/^invalid run job payload: runId: .*; projectId: /);
  });

  it("enqueues one built job with add, several with one addBulk", async () => {
    const calls: string[] = [];
    const sink = {
      add: async (name: string, _data: never, opts: JobOptions) => {
        calls.push(`add ${name} ${opts.jobId}`);
        return opts.jobId;
      },
      addBulk: async (jobs: { name: string; data: never; opts: JobOptions }[]) => {
        calls.push(`addBulk ${jobs.map((j) => j.opts.jobId).join(",")}`);
        return jobs.map((j) => j.opts.jobId);
      },
    };
    const job = (id: string) => buildJob("run", { runId: id, projectId: "p" }, { priority: 5, policy });
    expect(await enqueueBuilt(sink, [job("a")])).toEqual(["a"]);
    expect(await enqueueBuilt(sink, [job("b"), job("c")])).toEqual(["b", "c"]);
    expect(calls).toEqual(["add run a", "addBulk b,c"]);
  });
});

describe("retry delays", () => {
  it("transient errors at once; recoverable with exponential backoff and full jitter; others never", () => {
    expect(retryDelayMs(1, "transient", 1000, () => 0.5)).toBe(0);
    expect(retryDelayMs(1, "recoverable", 1000, () => 0)).toBe(500);
    expect(retryDelayMs(1, "recoverable", 1000, () => 1)).toBe(1000);
    expect(retryDelayMs(3, "recoverable", 1000, () => 1)).toBe(4000);
    expect(retryDelayMs(2, "permanent", 1000, () => 1)).toBe(0);
  });

  it("one classification: a RunError keeps its kind, anything else is transient with its cause", () => {
    const original = new Error("connection terminated");
    const classified = toRunError(original);
    expect(classified).toBeInstanceOf(RunError);
    expect(classified).toMatchObject({ kind: "transient", message: "connection terminated", cause: original });
    const recoverable = new RunError("recoverable", "net::ERR_CONNECTION_REFUSED", { retryDelayMs: 1234 });
    expect(toRunError(recoverable)).toBe(recoverable);
    expect(toRunError("text")).toMatchObject({ kind: "transient", message: "text" });
  });
});
