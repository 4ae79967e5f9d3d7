import { accessSync, constants, statSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";

/** Executable names looked up on PATH, in this order. */
export const CHROMIUM_PATH_NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] as const;

const FIX =
  "set CHROMIUM_PATH, or install Chromium (Debian/Ubuntu: apt-get install chromium), or run `npx playwright install chromium`";

/** No usable Chromium: the message says what was tried and how to fix it. */
export class ChromiumNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ChromiumNotFoundError";
  }
}

export interface ResolveChromiumOptions {
  /**
   * An explicit executable (the CHROMIUM_PATH setting). When given it must exist and be
   * executable; nothing else is tried. Default: none.
   */
  chromiumPath?: string;
  /** The PATH to search, `path.delimiter`-separated. Default: `process.env.PATH`. */
  pathEnv?: string;
}

export interface ResolvedChromium {
  path: string;
  /** Which rule found it. */
  source: "CHROMIUM_PATH" | "playwright" | "PATH";
}

/**
 * Finds the Chromium to launch: the explicit `chromiumPath`, else the browser Playwright itself
 * installed (`npx playwright install chromium`), else the first of CHROMIUM_PATH_NAMES on PATH.
 * Meant to run once at startup, so a missing browser fails the process with the fix spelled out.
 */
export function resolveChromium(opts: ResolveChromiumOptions = {}): ResolvedChromium {
  if (opts.chromiumPath !== undefined && opts.chromiumPath !== "") {
    const problem = executableProblem(opts.chromiumPath);
    if (problem !== null) {
      throw new ChromiumNotFoundError(
        `CHROMIUM_PATH=${opts.chromiumPath} ${problem}: point CHROMIUM_PATH at a Chromium executable, or unset it to use Playwright's browser or one on PATH`,
      );
    }
    return { path: opts.chromiumPath, source: "CHROMIUM_PATH" };
  }

  const bundled = playwrightExecutablePath();
  if (bundled !== null && executableProblem(bundled) === null) return { path: bundled, source: "playwright" };

  const pathEnv = opts.pathEnv ?? process.env.PATH ?? "";
  const dirs = pathEnv.split(path.delimiter).filter((dir) => dir !== "");
  for (const name of CHROMIUM_PATH_NAMES) {
    for (const dir of dirs) {
      const candidate = path.join(dir, name);
      if (executableProblem(candidate) === null) return { path: candidate, source: "PATH" };
    }
  }
  throw new ChromiumNotFoundError(
    `Chromium not found: CHROMIUM_PATH is not set, Playwright's browser is not installed${bundled === null ? "" : ` (looked at ${bundled})`}, and none of ${CHROMIUM_PATH_NAMES.join(", ")} is on PATH. Fix: ${FIX}`,
  );
}

/** Where Playwright would have installed its Chromium, or null when it cannot say. */
export function playwrightExecutablePath(): string | null {
  try {
    return chromium.executablePath() || null;
  } catch {
    return null;
  }
}

/** Why `file` cannot be launched, or null when it can. */
function executableProblem(file: string): string | null {
  try {
    if (!statSync(file).isFile()) return "is not a file";
  } catch {
    return "does not exist";
  }
  try {
    accessSync(file, constants.X_OK);
  } catch {
    return "is not executable";
  }
  return null;
}
