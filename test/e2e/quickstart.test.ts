/**
 * The README's promises, executed: `pnpm start` (the quick start: embedded database, API and a
 * worker in one process) comes up without DATABASE_URL, and the curl walkthrough in the README
 * works as written against it (only the port and the data directory differ).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { BINS, freePort, ROOT, startProcess, stopAllProcesses, uniquePrefix } from "@conveyor/testing/processes";
import { REDIS_URL } from "@conveyor/testing/stack";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const dataDir = mkdtempSync(join(tmpdir(), "conveyor-quickstart-"));
const prefix = uniquePrefix("quickstart");

afterAll(async () => {
  await stopAllProcesses();
  const redis = new Redis(REDIS_URL);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
  rmSync(dataDir, { recursive: true, force: true });
});

function walkthrough(port: number): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const block = /<!-- walkthrough:start -->\s*```bash\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme)?.[1];
  if (!block) throw new Error("README has no walkthrough block");
  return block.replaceAll("localhost:3000", `localhost:${port}`).replaceAll(".conveyor/", `${dataDir}/`);
}

describe("quick start", () => {
  it("starts with an embedded database and runs the README walkthrough verbatim", async () => {
    const port = await freePort();
    const conveyor = startProcess(
      "quickstart",
      BINS.quickStart,
      {
        PORT: String(port),
        DATA_DIR: dataDir,
        ARTIFACT_DIR: join(dataDir, "artifacts"),
        QUEUE_PREFIX: prefix,
        REDIS_URL,
      },
      ["start"],
    );
    await conveyor.waitForOutput(/Conveyor is up/, 60_000);
    expect(conveyor.output()).toMatch(/DATABASE_URL is not set: using the embedded database/);
    // HOST unset: it listens on loopback only, and says that recordings may open loopback.
    expect(conveyor.output()).toMatch(new RegExp(`"address":"http://127\\.0\\.0\\.1:${port}".*API listening`));
    expect(conveyor.output()).toMatch(/Conveyor is up: .*recordings may open public sites and this machine's loopback/);
    // The generated admin token is kept in a file and never printed.
    const token = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
    expect(token.length).toBeGreaterThan(20);
    expect(conveyor.output()).not.toContain(token);

    const { stdout } = await run("bash", ["-euo", "pipefail", "-c", walkthrough(port)], { cwd: ROOT, timeout: 60_000 });
    const lines = stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^submitted run_/);
    const result = JSON.parse(lines[lines.length - 1] ?? "{}");
    expect(result.status).toBe("passed");
    expect(result.counts).toEqual({ total: 2, passed: 2, failed: 0, skipped: 0 });
    expect(result.actions).toHaveLength(2);

    conveyor.kill("SIGTERM");
    expect(await conveyor.exited).toEqual({ code: 0, signal: null });
    expect(conveyor.output()).toMatch(/shutdown complete/);
  });
});
