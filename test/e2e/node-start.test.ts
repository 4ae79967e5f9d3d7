/**
 * Production runs the TypeScript sources with Node's own type stripping, no transpiler: the root
 * package.json's `migrate`, `start:api`, `start:worker` and `start` scripts are `node <file>.ts`.
 * This starts each exactly as its script does (this Node, no loader) against its own database and
 * Redis prefix, so a construct only a transpiler accepts (an enum, a parameter property, a JSON
 * import without `with { type: "json" }`, a type imported as a value) fails here. It also checks
 * that nothing prints a warning at start or stop (a deprecation, an SDK's Node-version notice);
 * that `pnpm start` writes JSON lines to a pipe and "[api]" / "[worker]" lines to a terminal; and
 * that `pnpm start` composes the API as `pnpm start:api` does (SHUTDOWN_READINESS_DELAY_MS).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "@conveyor/db/testing";
import {
  freePort,
  type Proc,
  ROOT,
  startProcess,
  stopAllProcesses,
  uniquePrefix,
  waitFor,
} from "@conveyor/testing/processes";
import { ADMIN_TOKEN, REDIS_URL, SECRETS_KEY } from "@conveyor/testing/stack";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const NODE_MAJOR = Number(process.versions.node.split(".")[0]);
const scripts = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> })
  .scripts;

/** A root package.json script as `node <file> [args]`: no loader, no flag, nothing but Node. */
function productionCommand(script: string): { file: string; args: string[] } {
  const command = scripts[script];
  expect(command, `package.json has a "${script}" script`).toBeDefined();
  const [runtime, file, ...args] = (command ?? "").split(/\s+/);
  expect(runtime, command).toBe("node");
  expect(file, command).toMatch(/^packages\/[a-z-]+\/src\/bin\/[a-z-]+\.ts$/);
  for (const arg of args) expect(arg, `${script}: ${command}`).not.toMatch(/^-|tsx/);
  return { file: file ?? "", args };
}

/** Lines Node, a dependency or an SDK print as a warning or deprecation notice. */
function warningLines(output: string): string[] {
  return output.split("\n").filter((line) => /Warning|\[DEP\d+\]|FSTDEP|Deprecat/.test(line));
}

/** Every line a process printed to a pipe is a JSON log line. */
function expectJsonLines(output: string): void {
  const lines = output.split("\n").filter((line) => line.trim() !== "");
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
}

async function readiness(url: string): Promise<{ status: number; body: { reason?: string } } | "refused"> {
  try {
    const response = await fetch(`${url}/api/health/ready`);
    return { status: response.status, body: (await response.json()) as { reason?: string } };
  } catch {
    return "refused";
  }
}

let db: TestDatabase;
const prefix = uniquePrefix("node-start");
const dir = mkdtempSync(join(tmpdir(), "conveyor-node-start-"));
let env: Record<string, string>;
let tty: ChildProcess | undefined;

beforeAll(async () => {
  db = await createTestDatabase("nodestart");
  env = {
    DATABASE_URL: db.url,
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    ARTIFACT_DIR: join(dir, "artifacts"),
    ADMIN_TOKEN,
    SECRETS_KEY,
    HOST: "127.0.0.1",
    EGRESS_ALLOW: "127.0.0.1",
  };
});

afterAll(async () => {
  if (tty && tty.exitCode === null && tty.signalCode === null) {
    tty.kill("SIGKILL");
    await new Promise((resolve) => tty?.once("close", resolve));
  }
  await stopAllProcesses();
  const redis = new Redis(REDIS_URL);
  try {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("production start: Node's type stripping, no transpiler", () => {
  it("runs on Node 24 (package.json engines), which strips types by itself", () => {
    expect(
      NODE_MAJOR,
      `Conveyor needs Node >= 24 (this is ${process.version}); .ci/run installs it`,
    ).toBeGreaterThanOrEqual(24);
    expect(process.features.typescript).toBeTruthy();
  });

  it("migrate, start:api and start:worker run the sources with plain node, JSON logs, no warning", async () => {
    const migrate = productionCommand("migrate");
    const migration = startProcess("migrate", migrate.file, env, migrate.args);
    expect(await migration.exited, migration.output()).toEqual({ code: 0, signal: null });

    const port = await freePort();
    const apiCommand = productionCommand("start:api");
    const workerCommand = productionCommand("start:worker");
    const api = startProcess("api", apiCommand.file, { ...env, PORT: String(port) }, apiCommand.args);
    const worker = startProcess(
      "worker",
      workerCommand.file,
      { ...env, WORKER_NAME: "node-start" },
      workerCommand.args,
    );
    await api.waitForOutput(/API listening/, 60_000);
    await worker.waitForOutput(/worker ready/, 60_000);
    expect(await readiness(`http://127.0.0.1:${port}`)).toMatchObject({ status: 200 });

    for (const proc of [api, worker]) proc.kill("SIGTERM");
    for (const proc of [api, worker] as Proc[]) {
      expect(await proc.exited, proc.output().slice(-2000)).toEqual({ code: 0, signal: null });
      expect(proc.output()).toMatch(/shutdown complete/);
      expectJsonLines(proc.output());
      expect(warningLines(proc.output()), proc.name).toEqual([]);
    }
    expect(warningLines(migration.output())).toEqual([]);
  });

  it("`pnpm start` composes the API as start:api does: readiness answers 503 for SHUTDOWN_READINESS_DELAY_MS", async () => {
    const start = productionCommand("start");
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const conveyor = startProcess(
      "start",
      start.file,
      { ...env, PORT: String(port), DATA_DIR: join(dir, "data"), SHUTDOWN_READINESS_DELAY_MS: "5000" },
      start.args,
    );
    await conveyor.waitForOutput(/Conveyor is up/, 60_000);
    expect(await readiness(url)).toMatchObject({ status: 200 });

    conveyor.kill("SIGTERM");
    // While the delay lasts the listener stays open and readiness says why it fails, so a load
    // balancer stops sending traffic before connections are refused. A one-process start that
    // closed the listener at once (it ignored the variable) answers Fastify's own "closing" 503,
    // without the reason, or refuses the connection.
    const seen = await waitFor(
      async () => {
        const answer = await readiness(url);
        if (answer !== "refused" && answer.status === 503) return answer;
        if (conveyor.child.exitCode !== null || answer === "refused") return answer;
        return undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50, what: "readiness to answer 503 after SIGTERM" },
    );
    expect(seen).toEqual({ status: 503, body: expect.objectContaining({ reason: "shutting down" }) });
    expect(await conveyor.exited, conveyor.output().slice(-2000)).toEqual({ code: 0, signal: null });
    expect(conveyor.output()).toMatch(/SHUTDOWN_READINESS_DELAY_MS/);
    // stdout is a pipe: JSON lines, for a log collector.
    expectJsonLines(conveyor.output());
    expect(warningLines(conveyor.output())).toEqual([]);
  });

  it("`pnpm start` on a terminal prints human-readable lines prefixed [api] and [worker], no warning", async () => {
    const start = productionCommand("start");
    const port = await freePort();
    // script(1) gives the quick start a pseudo-terminal as stdout, as a person's shell would.
    // `exec`: the shell script(1) runs the command with becomes Node, so Ctrl-C reaches Node alone.
    const command = `exec ${[process.execPath, start.file, ...start.args].map((word) => `'${word}'`).join(" ")}`;
    tty = spawn("script", ["-qfec", command, "/dev/null"], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "/tmp",
        SHELL: "/bin/sh",
        TERM: "xterm",
        LOG_LEVEL: "info",
        ...env,
        PORT: String(port),
        DATA_DIR: join(dir, "data-tty"),
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const child = tty;
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    const closed = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
    // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal colours are stripped
    const plain = () => output.replace(/\x1b\[[0-9;]*m/g, "").replaceAll("\r", "");
    await waitFor(async () => (/Conveyor is up/.test(plain()) ? true : undefined), {
      timeoutMs: 60_000,
      what: `"Conveyor is up" on the terminal:\n${plain().slice(-2000)}`,
    });
    const lines = plain()
      .split("\n")
      .filter((line) => line.trim() !== "");
    expect(lines.find((line) => /^\[api\] +\d\d:\d\d:\d\d\.\d{3} INFO: API listening/.test(line))).toBeDefined();
    expect(lines.find((line) => /^\[worker\] \d\d:\d\d:\d\d\.\d{3} INFO: worker ready/.test(line))).toBeDefined();
    expect(lines.find((line) => line.startsWith('{"level"'))).toBeUndefined();
    expect(warningLines(plain())).toEqual([]);

    // Ctrl-C, as the person would: the terminal sends SIGINT, the quick start shuts down cleanly.
    child.stdin?.write("\x03");
    expect(await closed, plain().slice(-2000)).toBe(0);
    expect(plain()).toMatch(/shutdown complete/);
  });
});
