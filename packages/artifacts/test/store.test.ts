import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArtifactKeyError, LocalArtifactStore, MemoryArtifactStore } from "../src/store.ts";

let dir: string;
let store: LocalArtifactStore;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "conveyor-artifacts-"));
  store = new LocalArtifactStore(path.join(dir, "store"));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("LocalArtifactStore", () => {
  it("stores and returns a body with its content type", async () => {
    await store.put("run_a/1/action-2-failure.png", Buffer.from("png bytes"), "image/png");
    await store.put("run_a/1/notes", Buffer.from("{}"), "application/json");
    expect(await store.get("run_a/1/action-2-failure.png")).toEqual({
      body: Buffer.from("png bytes"),
      contentType: "image/png",
    });
    expect((await store.get("run_a/1/notes"))?.contentType).toBe("application/json");
    // No temporary files are left behind.
    expect((await readdir(path.join(dir, "store", "run_a", "1"))).sort()).toEqual([
      "action-2-failure.png",
      "action-2-failure.png.meta.json",
      "notes",
      "notes.meta.json",
    ]);
  });

  it("returns null for a missing key", async () => {
    expect(await store.get("run_a/1/missing.png")).toBeNull();
    expect(await store.get("never/written")).toBeNull();
  });

  it.each([
    "../x",
    "a/../../x",
    "/etc/passwd",
    "a\\b",
    "a//b",
    "a/./b",
    "a/",
    "",
    "with space",
    "ümlaut",
    "x.png.meta.json",
  ])("rejects the key %j", async (key) => {
    await expect(store.put(key, Buffer.from("x"), "text/plain")).rejects.toBeInstanceOf(InvalidArtifactKeyError);
    await expect(store.get(key)).rejects.toBeInstanceOf(InvalidArtifactKeyError);
  });

  it("validates keys in the memory store too", async () => {
    const memory = new MemoryArtifactStore();
    await expect(memory.put("../x", Buffer.from("x"), "text/plain")).rejects.toBeInstanceOf(InvalidArtifactKeyError);
    await memory.put("a/b.txt", Buffer.from("x"), "text/plain");
    expect(await memory.get("a/b.txt")).toEqual({ body: Buffer.from("x"), contentType: "text/plain" });
  });
});

describe("sweep (retention)", () => {
  const DAY = 86_400_000;

  async function age(file: string, days: number): Promise<void> {
    const when = new Date(Date.now() - days * DAY);
    await utimes(file, when, when);
  }

  it("deletes local artifacts older than the cutoff with their metadata, and the directories they leave empty", async () => {
    const root = path.join(dir, "sweep");
    const local = new LocalArtifactStore(root);
    await local.put("run_old/1/a.png", Buffer.from("a"), "image/png");
    await local.put("run_old/1/b.png", Buffer.from("b"), "image/png");
    await local.put("run_mixed/1/old.png", Buffer.from("o"), "image/png");
    await local.put("run_mixed/2/new.png", Buffer.from("n"), "image/png");
    // Leftovers of a crash: a temporary file, and metadata whose artifact is gone.
    await writeFile(path.join(root, "run_mixed", "1", "half.png.123.4.tmp"), "x");
    await writeFile(path.join(root, "run_mixed", "1", "gone.png.meta.json"), "{}");
    for (const file of [
      "run_old/1/a.png",
      "run_old/1/a.png.meta.json",
      "run_old/1/b.png",
      "run_old/1/b.png.meta.json",
      "run_mixed/1/old.png",
      "run_mixed/1/old.png.meta.json",
      "run_mixed/1/half.png.123.4.tmp",
      "run_mixed/1/gone.png.meta.json",
    ]) {
      await age(path.join(root, file), 40);
    }
    for (const directory of ["run_old/1", "run_old", "run_mixed/1"]) await age(path.join(root, directory), 40);
    // An empty directory created just now (a worker about to write into it) is left alone.
    await mkdir(path.join(root, "run_fresh", "1"), { recursive: true });

    expect(await local.sweep(new Date(Date.now() - 30 * DAY))).toBe(3);
    expect((await readdir(root)).sort()).toEqual(["run_fresh", "run_mixed"]);
    expect(await readdir(path.join(root, "run_mixed"))).toEqual(["2"]);
    expect(await local.get("run_mixed/2/new.png")).toEqual({ body: Buffer.from("n"), contentType: "image/png" });
    expect(await local.get("run_old/1/a.png")).toBeNull();
    expect(await local.sweep(new Date(Date.now() - 30 * DAY))).toBe(0);
  });

  it("sweeps a directory that does not exist yet without failing", async () => {
    expect(await new LocalArtifactStore(path.join(dir, "never-created")).sweep(new Date())).toBe(0);
  });

  it("sweeps the memory store by the time each artifact was stored", async () => {
    const memory = new MemoryArtifactStore();
    await memory.put("a/old.txt", Buffer.from("x"), "text/plain");
    const cutoff = new Date(Date.now() + 1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await memory.put("a/new.txt", Buffer.from("y"), "text/plain");
    expect(await memory.sweep(cutoff)).toBe(1);
    expect([...memory.entries.keys()]).toEqual(["a/new.txt"]);
  });
});
