import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChromiumNotFoundError, playwrightExecutablePath, resolveChromium } from "../src/chromium.ts";

let dir: string;
const playwrightBrowserInstalled = (() => {
  const bundled = playwrightExecutablePath();
  return bundled !== null && existsSync(bundled);
})();

async function fakeExecutable(file: string, mode = 0o755): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, "#!/bin/sh\nexit 0\n");
  await chmod(file, mode);
  return file;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "conveyor-chromium-"));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("resolveChromium", () => {
  it("uses an explicit CHROMIUM_PATH first", async () => {
    const explicit = await fakeExecutable(path.join(dir, "explicit", "my-chrome"));
    const onPath = await fakeExecutable(path.join(dir, "bin", "chromium"));
    expect(resolveChromium({ chromiumPath: explicit, pathEnv: path.dirname(onPath) })).toEqual({
      path: explicit,
      source: "CHROMIUM_PATH",
    });
  });

  it("rejects an explicit path that does not exist, naming CHROMIUM_PATH", () => {
    expect(() => resolveChromium({ chromiumPath: path.join(dir, "nope"), pathEnv: "/usr/bin" })).toThrow(
      /CHROMIUM_PATH=.*nope does not exist/,
    );
  });

  it("rejects an explicit path that is not executable", async () => {
    const file = await fakeExecutable(path.join(dir, "plain", "chrome"), 0o644);
    expect(() => resolveChromium({ chromiumPath: file })).toThrow(ChromiumNotFoundError);
    expect(() => resolveChromium({ chromiumPath: file })).toThrow(/is not executable/);
  });

  it.skipIf(playwrightBrowserInstalled)("searches PATH by name order, then directory order", async () => {
    const first = path.join(dir, "path-a");
    const second = path.join(dir, "path-b");
    await fakeExecutable(path.join(first, "google-chrome"));
    const chromium = await fakeExecutable(path.join(second, "chromium"));
    const pathEnv = [path.join(dir, "missing"), first, second].join(path.delimiter);
    expect(resolveChromium({ pathEnv })).toEqual({ path: chromium, source: "PATH" });
  });

  it.skipIf(playwrightBrowserInstalled || !existsSync("/usr/bin/chromium"))("finds the system Chromium on PATH", () => {
    expect(resolveChromium({ pathEnv: `/nonexistent${path.delimiter}/usr/bin` })).toEqual({
      path: "/usr/bin/chromium",
      source: "PATH",
    });
  });

  it.skipIf(playwrightBrowserInstalled)("names the fix when nothing is found", () => {
    let caught: unknown;
    try {
      resolveChromium({ pathEnv: "" });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ChromiumNotFoundError);
    expect((caught as Error).message).toContain(
      "set CHROMIUM_PATH, or install Chromium (Debian/Ubuntu: apt-get install chromium), or run `npx playwright install chromium`",
    );
  });
});
