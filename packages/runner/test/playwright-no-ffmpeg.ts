/**
 * Imported FIRST by tests that need Playwright to find no ffmpeg: points it at an empty browsers
 * directory. playwright-core reads PLAYWRIGHT_BROWSERS_PATH once, when it loads.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const dir = mkdtempSync(path.join(tmpdir(), "conveyor-pw-empty-"));
process.env.PLAYWRIGHT_BROWSERS_PATH = dir;

/** Removes the empty browsers directory. Call in afterAll. */
export function removeEmptyBrowsersDir(): void {
  rmSync(dir, { recursive: true, force: true });
}
