import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { createPostgresDb } from "../src/client.ts";
import { loadMigrations, MigrationChecksumError, migrate } from "../src/migrate.ts";
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

  it("refuses to start when an applied migration was edited, and applies nothing after it", async () => {
    const empty = await emptyDatabase("migsum");
    const handle = await createPostgresDb({ url: empty.url, maxConnections: 2 });
    try {
      const all = loadMigrations();
      const [first] = all;
      if (!first) throw new Error("no migrations");
      await migrate(handle.db, [first]);
      // The same tag with other text (someone edited 0000 after it ran), and a new migration behind it.
      const edited = { ...first, hash: "0".repeat(64), statements: [...first.statements, "select 1"] };
      const next = { tag: "9999_probe", hash: "1".repeat(64), statements: ["create table probe_after_edit (x int)"] };
      const error = await migrate(handle.db, [edited, next]).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationChecksumError);
      expect((error as MigrationChecksumError).changed.map((c) => c.tag)).toEqual([first.tag]);
      expect((error as Error).message).toMatch(
        new RegExp(`^applied migration\\(s\\) changed since they were applied: ${first.tag} `),
      );
      expect((error as Error).message).toMatch(/put the change in a new migration/);
      const tables = await handle.query<{ n: number }>(
        "select count(*)::int as n from information_schema.tables where table_name = 'probe_after_edit'",
      );
      expect(tables[0]?.n).toBe(0);
      // The unedited text passes, and a tag the code does not know is reported, not refused.
      const unknown: string[][] = [];
      await handle.query("insert into conveyor_migrations (tag, hash) values ('9998_from_newer_release', 'x')");
      expect(await migrate(handle.db, all, { onUnknownApplied: (tags) => unknown.push(tags) })).toEqual(
        all.slice(1).map((m) => m.tag),
      );
      expect(unknown).toEqual([["9998_from_newer_release"]]);
    } finally {
      await handle.close();
    }
  });

  it("the migrate command exits non-zero naming the edited migration", async () => {
    const empty = await emptyDatabase("migsumbin");
    const first = await runMigrateProcess(empty.url);
    expect(first.code, first.output).toBe(0);
    const [tag] = loadMigrations().map((m) => m.tag);
    const handle = await createPostgresDb({ url: empty.url, maxConnections: 1 });
    try {
      // What an edited file looks like from the database's side: the recorded hash differs.
      await handle.query(`update conveyor_migrations set hash = 'edited' where tag = '${tag}'`);
    } finally {
      await handle.close();
    }
    const second = await runMigrateProcess(empty.url);
    expect(second.code).not.toBe(0);
    expect(second.output).toContain(`applied migration(s) changed since they were applied: ${tag}`);
  });
});
