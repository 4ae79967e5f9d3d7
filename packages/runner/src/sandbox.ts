import { readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * `auto`: Chromium's sandbox where it can run, none (with the reason) where it cannot;
 * `required`: refuse to run without it; `off`: never (the container is the only boundary).
 */
export const CHROMIUM_SANDBOX_MODES = ["auto", "required", "off"] as const;
export type ChromiumSandboxMode = (typeof CHROMIUM_SANDBOX_MODES)[number];

/** Whether Chromium runs sandboxed, and if not, why. */
export interface SandboxStatus {
  enabled: boolean;
  mode: ChromiumSandboxMode;
  /** Why the sandbox is off (absent when it is on). */
  reason?: string;
}

/** Chromium's sandbox cannot be had and CHROMIUM_SANDBOX=required: the worker must not start. */
export class ChromiumSandboxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ChromiumSandboxError";
  }
}

/**
 * What keeps Chromium's (user-namespace) sandbox from running in this process, or null when
 * nothing is known to: root (Chromium refuses to sandbox itself as root), or user namespaces
 * turned off. Whatever else goes wrong shows when Chromium starts.
 */
export function sandboxObstacle(
  read: (file: string) => string | null = readSysctl,
  uid: number | undefined = process.getuid?.(),
): string | null {
  if (uid === 0) return "the worker runs as root, and Chromium refuses its sandbox for root (run it as another user)";
  if (read("/proc/sys/user/max_user_namespaces") === "0") {
    return "user namespaces are disabled (user.max_user_namespaces = 0)";
  }
  if (read("/proc/sys/kernel/unprivileged_userns_clone") === "0") {
    return "unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone = 0)";
  }
  return null;
}

function readSysctl(file: string): string | null {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return null;
  }
}

/** The sandbox decision before launching; `required` with an obstacle throws ChromiumSandboxError. */
export function decideSandbox(mode: ChromiumSandboxMode, obstacle: string | null = sandboxObstacle()): SandboxStatus {
  if (mode === "off") return { enabled: false, mode, reason: "CHROMIUM_SANDBOX=off" };
  if (obstacle === null) return { enabled: true, mode };
  if (mode === "required") throw new ChromiumSandboxError(`CHROMIUM_SANDBOX=required, but ${obstacle}`);
  return { enabled: false, mode, reason: obstacle };
}

/** Variables Chromium may inherit: none secret, all needed for fonts, locale, time zone or a display. */
const INHERITED = ["PATH", "LANG", "LANGUAGE", "TZ", "FONTCONFIG_PATH", "FONTCONFIG_FILE", "DISPLAY", "XAUTHORITY"];

/**
 * Chromium's whole environment: a HOME, TMPDIR and XDG directories inside `dir` (private to this
 * user), and the few harmless variables above and `LC_*`. Nothing else of the worker's
 * environment — DATABASE_URL, REDIS_URL, SECRETS_KEY, S3 keys, ADMIN_TOKEN, METRICS_TOKEN — ever
 * reaches the browser or a page it renders.
 */
export function browserEnvironment(dir: string, parent: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const home = join(dir, "home");
  const env: Record<string, string> = {
    HOME: home,
    TMPDIR: join(dir, "tmp"),
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_CACHE_HOME: join(home, ".cache"),
    XDG_DATA_HOME: join(home, ".local", "share"),
  };
  for (const [name, value] of Object.entries(parent)) {
    if (value !== undefined && (INHERITED.includes(name) || name.startsWith("LC_"))) env[name] = value;
  }
  return env;
}
