/**
 * Run as a process of its own (by sandbox.test.ts, possibly as another user): launches a pool with
 * the sandbox mode of argv[2], opens a page, and prints one JSON line describing Chromium's
 * processes — their user namespaces (a sandboxed renderer lives in one of its own) and whether
 * any of the variables named in PROBE_SECRET_NAMES reached their environment.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { BrowserPool } from "../src/pool.ts";
import type { ChromiumSandboxMode } from "../src/sandbox.ts";

async function main(): Promise<void> {
  const mode = (process.argv[2] ?? "auto") as ChromiumSandboxMode;
  const secretNames = (process.env.PROBE_SECRET_NAMES ?? "").split(",").filter((name) => name !== "");
  const pool = new BrowserPool({
    executablePath: process.env.CHROMIUM_PATH ?? "",
    sandbox: mode,
    prepareNextPage: false,
  });
  try {
    const opened = await pool.newPage();
    await opened.page.goto("data:text/html,<p>probe</p>");
    const chromium: { pid: number; userNamespace: string; leaked: string[]; home: string | undefined }[] = [];
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const status = readFileSync(`/proc/${entry}/status`, "utf8");
        if (!/^PPid:/m.test(status) || !descendsFrom(Number(entry), process.pid)) continue;
        // Chromium's processes only (not, say, tsx's esbuild service, which is this probe's own).
        if (!/chrom/i.test(readlinkSync(`/proc/${entry}/exe`))) continue;
        // Chromium's child processes overwrite their environment block with their title, so a
        // value is looked for anywhere in the raw bytes, not only as NAME=value lines.
        const raw = readFileSync(`/proc/${entry}/environ`, "utf8");
        const environ = raw.split("\0");
        chromium.push({
          pid: Number(entry),
          userNamespace: readlinkSync(`/proc/${entry}/ns/user`),
          leaked: secretNames.filter(
            (name) => environ.some((line) => line.startsWith(`${name}=`)) || raw.includes(process.env[name] ?? "\0"),
          ),
          home: environ.find((line) => line.startsWith("HOME="))?.slice(5),
        });
      } catch {
        // Exited meanwhile, or not ours to read.
      }
    }
    console.log(JSON.stringify({ sandbox: pool.sandbox, self: readlinkSync("/proc/self/ns/user"), chromium }));
  } catch (error) {
    console.log(JSON.stringify({ error: (error as Error).name, message: (error as Error).message.split("\n")[0] }));
  } finally {
    await pool.close();
  }
}

function descendsFrom(pid: number, ancestor: number): boolean {
  for (let current = pid, hops = 0; current > 1 && hops < 50; hops++) {
    const status = readFileSync(`/proc/${current}/status`, "utf8");
    const parent = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1] ?? 0);
    if (parent === ancestor) return true;
    current = parent;
  }
  return false;
}

void main();
