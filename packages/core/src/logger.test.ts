/**
 * Logs go to stdout asynchronously; these check, with real processes, that nothing logged is lost
 * when the process exits, and that `flushLogger` writes everything out before a SIGKILL, a single line logged while
 * stdout was idle included (its write is already with the thread pool when the kill comes).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const LOGGER = new URL("./logger.ts", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "conveyor-logger-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `body` in a fresh node process with `createLogger` (as `log`); returns stdout and how it ended. */
function runScript(name: string, body: string): Promise<{ stdout: string; signal: NodeJS.Signals | null }> {
  const file = join(dir, `${name}.ts`);
  writeFileSync(
    file,
    `import { createLogger, flushLogger } from ${JSON.stringify(LOGGER)};\nconst log = createLogger({ level: "info" });\nvoid flushLogger;\nvoid (async () => {\n${body}\n})();\n`,
  );
  const child = spawn(process.execPath, ["--import", "tsx", file], { stdio: ["ignore", "pipe", "inherit"] });
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  return new Promise((resolve) => child.once("close", (_code, signal) => resolve({ stdout, signal })));
}

const LINES = 20_000;
const countLines = (stdout: string) => stdout.split("\n").filter((line) => line.includes('"msg":"line"')).length;

describe("createLogger (stdout, asynchronous)", () => {
  it("loses nothing when the process exits right after logging", async () => {
    const { stdout } = await runScript(
      "exit",
      `for (let i = 0; i < ${LINES}; i++) log.info({ i }, "line");\nprocess.exit(0);`,
    );
    expect(countLines(stdout)).toBe(LINES);
    expect(stdout).toContain(`"i":${LINES - 1}`);
  });

  it("flushLogger writes everything out before a SIGKILL", async () => {
    const { stdout, signal } = await runScript(
      "kill",
      `for (let i = 0; i < ${LINES}; i++) log.info({ i }, "line");\nawait flushLogger(log);\nprocess.kill(process.pid, "SIGKILL");`,
    );
    expect(signal).toBe("SIGKILL");
    expect(countLines(stdout)).toBe(LINES);
  });

  it("flushLogger writes out a single line logged while stdout was idle, before a SIGKILL", async () => {
    // One line, written at once by the thread pool: nothing is left for a synchronous flush, and
    // killing straight away lost the line now and then. Twenty processes, every one must print it.
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, n) =>
        runScript(
          `one-${n}`,
          `await new Promise((r) => setTimeout(r, 50));\nlog.warn("last words");\nawait flushLogger(log);\nprocess.kill(process.pid, "SIGKILL");`,
        ),
      ),
    );
    for (const { stdout, signal } of results) {
      expect(signal).toBe("SIGKILL");
      expect(stdout).toContain('"msg":"last words"');
    }
  });
});
