import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InvalidArtifactKeyError, LocalArtifactStore, MemoryArtifactStore } from "../src/artifacts.ts";

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
