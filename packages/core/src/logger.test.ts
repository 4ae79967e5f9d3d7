/**
 * Logs go to stdout asynchronously; these check, with real processes, that nothing logged is lost
 * when the process exits, and that `flushLoggerSync` writes everything out before a SIGKILL.
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
    `import { createLogger, flushLoggerSync } from ${JSON.stringify(LOGGER)};\nconst log = createLogger({ level: "info" });\nvoid flushLoggerSync;\n${body}\n`,
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

  it("flushLoggerSync writes everything out before a SIGKILL", async () => {
    const { stdout, signal } = await runScript(
      "kill",
      `for (let i = 0; i < ${LINES}; i++) log.info({ i }, "line");\nflushLoggerSync(log);\nprocess.kill(process.pid, "SIGKILL");`,
    );
    expect(signal).toBe("SIGKILL");
    expect(countLines(stdout)).toBe(LINES);
  });
});
