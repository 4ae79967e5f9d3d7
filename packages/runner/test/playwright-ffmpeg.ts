/**
 * Imported FIRST by test files that record video. Playwright encodes video with an ffmpeg it
 * looks up under its browsers directory (`npx playwright install ffmpeg`), read once from
 * PLAYWRIGHT_BROWSERS_PATH when playwright-core loads. Where Playwright's own ffmpeg is missing
 * but the system has one (Debian: `apt-get install ffmpeg`), this points Playwright at a
 * temporary browsers directory holding a link to the system one.
 *
 * `import "./playwright-ffmpeg.ts"` must come before anything that imports playwright-core.
 */
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import path from "node:path";

function ffmpegRevision(): string {
  const require = createRequire(import.meta.url);
  const root = path.dirname(require.resolve("playwright-core/package.json"));
  const browsers = JSON.parse(readFileSync(path.join(root, "browsers.json"), "utf8")) as {
    browsers: { name: string; revision: string }[];
  };
  const ffmpeg = browsers.browsers.find((browser) => browser.name === "ffmpeg");
  if (ffmpeg === undefined) throw new Error("playwright-core's browsers.json names no ffmpeg");
  return ffmpeg.revision;
}

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function systemFfmpeg(): string | null {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    if (dir !== "" && executable(path.join(dir, "ffmpeg"))) return path.join(dir, "ffmpeg");
  }
  return null;
}

const revision = ffmpegRevision();
const browsersDir = process.env.PLAYWRIGHT_BROWSERS_PATH ?? path.join(homedir(), ".cache", "ms-playwright");
const playwrightFfmpeg = path.join(browsersDir, `ffmpeg-${revision}`, "ffmpeg-linux");
const system = systemFfmpeg();

/** Whether video can be recorded in these tests. */
export const videoAvailable = process.platform === "linux" && (executable(playwrightFfmpeg) || system !== null);

let linkDir: string | null = null;
if (process.platform === "linux" && !executable(playwrightFfmpeg) && system !== null) {
  linkDir = mkdtempSync(path.join(tmpdir(), "conveyor-pw-"));
  mkdirSync(path.join(linkDir, `ffmpeg-${revision}`));
  symlinkSync(system, path.join(linkDir, `ffmpeg-${revision}`, "ffmpeg-linux"));
  process.env.PLAYWRIGHT_BROWSERS_PATH = linkDir;
}

/** Removes the temporary browsers directory, if one was made. Call in afterAll. */
export function removeFfmpegLink(): void {
  if (linkDir !== null) rmSync(linkDir, { recursive: true, force: true });
}
