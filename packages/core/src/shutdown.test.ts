import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.ts";
import { ShutdownManager } from "./shutdown.ts";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: createLogger({ level: "debug", destination }) };
}

function manager(deadlineMs?: number) {
  const { lines, logger } = capture();
  const exits: number[] = [];
  const shutdown = new ShutdownManager(logger, (code) => exits.push(code), deadlineMs ? { deadlineMs } : {});
  return { shutdown, exits, lines };
}

describe("ShutdownManager", () => {
  it("runs the steps in order and exits 0; a failed step is logged, the rest still run, exit 1", async () => {
    const { shutdown, exits, lines } = manager();
    const order: string[] = [];
    shutdown.register("intake", async () => {
      order.push("intake");
    });
    shutdown.register("drain", async () => {
      order.push("drain");
      throw new Error("drain broke");
    });
    shutdown.register("connections", async () => {
      order.push("connections");
    });
    await shutdown.shutdown("SIGTERM");
    expect(order).toEqual(["intake", "drain", "connections"]);
    expect(exits).toEqual([1]);
    expect(lines.find((l) => l.msg === "shutdown step failed")).toMatchObject({ handler: "drain" });
  });

  it("refuses a second handler with a name already registered", () => {
    const { shutdown } = manager();
    shutdown.register("queue", async () => undefined);
    expect(() => shutdown.register("queue", async () => undefined)).toThrow(
      'shutdown handler "queue" is already registered',
    );
  });

  it("exits 1 at the overall deadline, naming the step that hung, and runs nothing after it", async () => {
    const { shutdown, exits, lines } = manager(50);
    const ran: string[] = [];
    shutdown.register("redis", () => new Promise<void>(() => undefined));
    shutdown.register("database", async () => {
      ran.push("database");
    });
    void shutdown.shutdown("SIGTERM");
    await expect.poll(() => exits, { timeout: 5_000 }).toEqual([1]);
    expect(lines.find((l) => l.msg === "shutdown deadline passed: exiting with this step unfinished")).toMatchObject({
      handler: "redis",
      deadlineMs: 50,
    });
    expect(ran).toEqual([]);
  });

  it("a second signal exits 130 at once", async () => {
    const { shutdown, exits } = manager();
    let release: () => void = () => undefined;
    shutdown.register("drain", () => new Promise<void>((resolve) => (release = resolve)));
    const first = shutdown.shutdown("SIGTERM");
    await shutdown.shutdown("SIGINT");
    expect(exits).toEqual([130]);
    release();
    await first;
    // The first shutdown, finishing later, does not exit a second time.
    expect(exits).toEqual([130]);
  });
});
