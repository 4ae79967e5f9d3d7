/**
 * Chromium's isolation, with real processes: its environment holds none of the worker's secrets,
 * its sandbox is on where it can run (a non-root user with user namespaces), and where it cannot,
 * `auto` says why and `required` refuses to start.
 */
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrowserPool } from "../src/pool.ts";
import { browserEnvironment, ChromiumSandboxError, decideSandbox, sandboxObstacle } from "../src/sandbox.ts";
import { testChromiumPath } from "./helpers.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const PROBE = fileURLToPath(new URL("./sandbox-probe.ts", import.meta.url));
/** What a worker's environment holds that Chromium must never see. */
const SECRETS: Record<string, string> = {
  DATABASE_URL: "postgres://conveyor:db-password@10.0.0.5:5432/conveyor",
  REDIS_URL: "redis://:redis-password@10.0.0.6:6379",
  SECRETS_KEY: "a".repeat(64),
  S3_ACCESS_KEY_ID: "AKIAEXAMPLE",
  S3_SECRET_ACCESS_KEY: "s3-secret-example",
  ADMIN_TOKEN: "admin-token-0123456789",
  METRICS_TOKEN: "metrics-token-0123456789",
};
const NOBODY = 65_534;

interface ProbeResult {
  sandbox?: { enabled: boolean; mode: string; reason?: string };
  self?: string;
  chromium?: { pid: number; userNamespace: string; leaked: string[]; home?: string }[];
  error?: string;
  message?: string;
}

let home: string;

beforeAll(() => {
  home = mkdtempSync(join(tmpdir(), "conveyor-sandbox-home-"));
  chmodSync(home, 0o700);
  if (process.getuid?.() === 0) chownSync(home, NOBODY, NOBODY);
});

afterAll(() => {
  if (home) rmSync(home, { recursive: true, force: true });
});

/** Runs the probe with `mode`, as `uid` (root can switch), with the worker's secrets in its environment. */
function probe(mode: string, uid?: number): Promise<ProbeResult> {
  const command = uid === undefined ? process.execPath : "setpriv";
  const args = [
    ...(uid === undefined ? [] : [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", process.execPath]),
    "--import",
    "tsx",
    PROBE,
    mode,
  ];
  const child = spawn(command, args, {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: home,
      CHROMIUM_PATH: testChromiumPath(),
      PROBE_SECRET_NAMES: Object.keys(SECRETS).join(","),
      ...SECRETS,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    out += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.once("exit", () => {
      const line = out.split("\n").find((candidate) => candidate.startsWith("{"));
      if (line === undefined) reject(new Error(`the probe printed no result:\n${out.slice(-2000)}`));
      else resolve(JSON.parse(line) as ProbeResult);
    });
  });
}

/** Whether an unprivileged user can make a user namespace here (what Chromium's sandbox needs). */
function userNamespacesWork(uid: number | undefined): boolean {
  try {
    const command = uid === undefined ? "unshare" : "setpriv";
    const args =
      uid === undefined
        ? ["-U", "true"]
        : [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "unshare", "-U", "true"];
    execFileSync(command, args, { stdio: "ignore", timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

describe("Chromium's environment", () => {
  it("holds only HOME, TMPDIR, XDG directories and locale, font and display variables", () => {
    const env = browserEnvironment("/private", {
      ...SECRETS,
      PATH: "/usr/bin",
      LANG: "C.UTF-8",
      LC_ALL: "C",
      TZ: "UTC",
    });
    expect(env).toEqual({
      HOME: "/private/home",
      TMPDIR: "/private/tmp",
      XDG_CONFIG_HOME: "/private/home/.config",
      XDG_CACHE_HOME: "/private/home/.cache",
      XDG_DATA_HOME: "/private/home/.local/share",
      PATH: "/usr/bin",
      LANG: "C.UTF-8",
      LC_ALL: "C",
      TZ: "UTC",
    });
  });

  it("of every running Chromium process holds none of the worker's secrets", async () => {
    const result = await probe("auto");
    expect(result.error).toBeUndefined();
    expect(result.chromium?.length ?? 0).toBeGreaterThan(1);
    for (const process of result.chromium ?? []) expect(process.leaked).toEqual([]);
    // The browser process's block is intact: its HOME is the pool's private one.
    expect(result.chromium?.some((process) => /conveyor-browser-.*\/home$/.test(process.home ?? ""))).toBe(true);
  });
});

describe("Chromium's sandbox", () => {
  it("decides from the mode and what stands in the way", () => {
    expect(decideSandbox("off", null)).toEqual({ enabled: false, mode: "off", reason: "CHROMIUM_SANDBOX=off" });
    expect(decideSandbox("auto", null)).toEqual({ enabled: true, mode: "auto" });
    expect(decideSandbox("auto", "root")).toEqual({ enabled: false, mode: "auto", reason: "root" });
    expect(() => decideSandbox("required", "root")).toThrow(ChromiumSandboxError);
    expect(sandboxObstacle(() => null, 0)).toMatch(/root/);
    expect(sandboxObstacle((file) => (file.endsWith("max_user_namespaces") ? "0" : null), 1000)).toMatch(
      /user namespaces are disabled/,
    );
    expect(sandboxObstacle(() => "1", 1000)).toBeNull();
  });

  it("is on for a non-root user where user namespaces work, with renderers in a namespace of their own", async () => {
    const uid = process.getuid?.() === 0 ? NOBODY : undefined;
    if (!userNamespacesWork(uid)) {
      // Not on this machine: `auto` runs without it and says why, `required` refuses.
      const auto = await probe("auto", uid);
      expect(auto.sandbox).toMatchObject({ enabled: false, reason: expect.any(String) });
      const required = await probe("required", uid);
      expect(required).toMatchObject({ error: "ChromiumSandboxError" });
      return;
    }
    const result = await probe("required", uid);
    expect(result.error).toBeUndefined();
    expect(result.sandbox).toEqual({ enabled: true, mode: "required" });
    const namespaces = new Set(result.chromium?.map((process) => process.userNamespace));
    expect([...namespaces].some((namespace) => namespace !== result.self)).toBe(true);
    for (const process of result.chromium ?? []) expect(process.leaked).toEqual([]);
  });

  it.runIf(process.getuid?.() === 0)(
    "as root: auto runs without it and says why; required refuses to start",
    async () => {
      const auto = new BrowserPool({ executablePath: testChromiumPath(), sandbox: "auto", prepareNextPage: false });
      try {
        await auto.warm();
        expect(auto.sandbox).toMatchObject({ enabled: false, reason: expect.stringMatching(/root/) });
      } finally {
        await auto.close();
      }
      const required = new BrowserPool({
        executablePath: testChromiumPath(),
        sandbox: "required",
        prepareNextPage: false,
      });
      try {
        await expect(required.warm()).rejects.toThrow(/CHROMIUM_SANDBOX=required, but the worker runs as root/);
      } finally {
        await required.close();
      }
    },
  );
});
