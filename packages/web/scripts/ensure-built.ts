/**
 * Builds the dashboard when dist/ is missing or older than its sources, and does nothing
 * otherwise (a few stat calls): `pnpm start` runs it first (the root package.json's prestart), so
 * the quick start serves /ui without a separate build step, and a `git pull` that changes the
 * dashboard rebuilds it at the next start. CI builds explicitly (.ci/run).
 *
 *   node packages/web/scripts/ensure-built.ts
 */
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Newest modification time of a file or of the files under a directory, ms; 0 when missing. */
function newest(path: string): number {
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = 0;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

const built = newest(join(root, "dist", "index.html"));
const sources = Math.max(
  ...["src", "index.html", "vite.config.ts", "package.json"].map((name) => newest(join(root, name))),
);
if (built > 0 && built >= sources) process.exit(0);

console.log(built === 0 ? "building the dashboard (packages/web)…" : "the dashboard changed: rebuilding it…");
const result = spawnSync("pnpm", ["--filter", "@conveyor/web", "build"], {
  cwd: root,
  stdio: ["ignore", "inherit", "inherit"],
});
if (result.status !== 0) {
  console.error("could not build the dashboard: /ui will answer 404 until `pnpm --filter @conveyor/web build` works");
  // The API itself works without it: do not stop the start.
  process.exit(0);
}
