import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { createPostgresDb } from "../src/client.ts";
import { loadMigrations, migrate } from "../src/migrate.ts";
import { createEmptyTestDatabase } from "../src/testing.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const MIGRATE_BIN = "packages/db/src/bin/migrate.ts";
const TABLES = ["api_keys", "projects", "recordings", "run_actions", "run_events", "runs"];

const drops: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const drop of drops) await drop();
});

async function emptyDatabase(label: string) {
  const empty = await createEmptyTestDatabase(label);
  drops.push(empty.drop);
  return empty;
}

function runMigrateProcess(url: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MIGRATE_BIN], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", DATABASE_URL: url },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, output }));
  });
}

async function inspect(url: string) {
  const handle = await createPostgresDb({ url, maxConnections: 1 });
  try {
    const migrations = await handle.query<{ tag: string; hash: string }>(
      "select tag, hash from conveyor_migrations order by tag",
    );
    const tables = await handle.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' order by table_name",
    );
    return { migrations, tables: tables.map((t) => t.table_name) };
  } finally {
    await handle.close();
  }
}

describe("migrate", () => {
  it("applies 0000_init on a fresh database, then nothing", async () => {
    const empty = await emptyDatabase("mig");
    const handle = await createPostgresDb({ url: empty.url, maxConnections: 2 });
    try {
      const all = loadMigrations();
      expect(all.map((m) => m.tag)).toContain("0000_init");
      expect(await migrate(handle.db)).toEqual(all.map((m) => m.tag));
      expect(await migrate(handle.db)).toEqual([]);
    } finally {
      await handle.close();
    }
    const state = await inspect(empty.url);
    expect(state.migrations.map((m) => m.tag)).toEqual(loadMigrations().map((m) => m.tag));
    expect(state.migrations.map((m) => m.hash)).toEqual(loadMigrations().map((m) => m.hash));
    for (const table of TABLES) expect(state.tables).toContain(table);
  });

  it("runs once when several processes start at once on an empty database", async () => {
    const empty = await emptyDatabase("migc");
    const results = await Promise.all(Array.from({ length: 5 }, () => runMigrateProcess(empty.url)));

    for (const result of results) {
      expect(result.code, result.output).toBe(0);
      expect(result.output).not.toMatch(/failed|error/i);
    }
    const applied = results.filter((r) => /Applied/.test(r.output));
    expect(applied, results.map((r) => r.output).join("\n---\n")).toHaveLength(1);
    expect(applied[0]?.output).toContain("0000_init");
    expect(results.filter((r) => /is up to date/.test(r.output))).toHaveLength(4);

    const state = await inspect(empty.url);
    const tags = loadMigrations().map((m) => m.tag);
    expect(state.migrations.map((m) => m.tag)).toEqual(tags);
    for (const table of [...TABLES, "conveyor_migrations"]) expect(state.tables).toContain(table);
  });
});
