/**
 * S3ArtifactStore against a real S3-protocol server (s3rver on a random port, started here):
 * put/get, content types, missing keys, key validation, prefixes and the retention sweep.
 */
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { startS3Server, type TestS3Server } from "@conveyor/testing/s3-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createArtifactStore } from "../src/index.ts";
import { S3ArtifactStore } from "../src/s3.ts";
import { InvalidArtifactKeyError } from "../src/store.ts";

const BUCKET = "conveyor-artifacts";
let s3: TestS3Server;

beforeAll(async () => {
  s3 = await startS3Server();
  await s3.createBucket(BUCKET);
});

afterAll(async () => {
  await s3?.close();
});

async function listKeys(prefix = ""): Promise<string[]> {
  const page = await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (page.Contents ?? []).flatMap((object) => (object.Key ? [object.Key] : [])).sort();
}

/** Waits until the next whole second; returns it. s3rver's LastModified has one-second precision. */
async function nextWholeSecond(): Promise<Date> {
  const next = Math.ceil((Date.now() + 1) / 1000) * 1000;
  await new Promise((resolve) => setTimeout(resolve, next - Date.now() + 20));
  return new Date(next);
}

describe("S3ArtifactStore", () => {
  it("stores and returns a body with its content type, under the prefix", async () => {
    const store = new S3ArtifactStore({ bucket: BUCKET, prefix: "basic", ...s3.connection });
    expect(store.prefix).toBe("basic/");
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 1, 2, 255]);
    await store.put("run_a/1/action-2-failure.png", png, "image/png");
    // The key says nothing about the type: it comes back from the object's metadata.
    await store.put("run_a/1/notes", Buffer.from("{}"), "application/json");
    expect(await store.get("run_a/1/action-2-failure.png")).toEqual({ body: png, contentType: "image/png" });
    expect(await store.get("run_a/1/notes")).toEqual({ body: Buffer.from("{}"), contentType: "application/json" });
    expect(await listKeys("basic/")).toEqual(["basic/run_a/1/action-2-failure.png", "basic/run_a/1/notes"]);
  });

  it("replaces what was stored under a key", async () => {
    const store = new S3ArtifactStore({ bucket: BUCKET, prefix: "replace/", ...s3.connection });
    await store.put("run_b/1/trace.zip", Buffer.from("first"), "application/zip");
    await store.put("run_b/1/trace.zip", Buffer.from("second"), "application/zip");
    expect((await store.get("run_b/1/trace.zip"))?.body.toString()).toBe("second");
  });

  it("returns null for a missing key", async () => {
    const store = new S3ArtifactStore({ bucket: BUCKET, prefix: "missing", ...s3.connection });
    expect(await store.get("run_a/1/missing.png")).toBeNull();
    expect(await store.get("never/written")).toBeNull();
  });

  it("fails, rather than answering null, when the bucket does not exist", async () => {
    const store = new S3ArtifactStore({ bucket: "no-such-bucket", ...s3.connection });
    await expect(store.get("run_a/1/shot.png")).rejects.toThrow();
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
    const store = new S3ArtifactStore({ bucket: BUCKET, ...s3.connection });
    await expect(store.put(key, Buffer.from("x"), "text/plain")).rejects.toBeInstanceOf(InvalidArtifactKeyError);
    await expect(store.get(key)).rejects.toBeInstanceOf(InvalidArtifactKeyError);
  });

  it("sweeps objects older than the cutoff, page by page, and only its own", async () => {
    // A small page size makes the sweep follow continuation tokens.
    const store = new S3ArtifactStore({ bucket: BUCKET, prefix: "sweep/", listPageSize: 2, ...s3.connection });
    const old = ["run_old/1/a.png", "run_old/1/b.png", "run_old/1/video.webm", "run_old/2/c.png", "run_x/1/d.png"];
    for (const key of old) await store.put(key, Buffer.from(key), "image/png");
    // Beside the store's keys: another prefix, and a key under its prefix that no artifact can have.
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "elsewhere/run_old/1/a.png", Body: "x" }));
    await s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: "sweep/not an artifact", Body: "x" }));
    const cutoff = await nextWholeSecond();
    await store.put("run_new/1/a.png", Buffer.from("new"), "image/png");

    expect(await store.sweep(cutoff)).toBe(old.length);
    expect(await listKeys("sweep/")).toEqual(["sweep/not an artifact", "sweep/run_new/1/a.png"]);
    expect(await listKeys("elsewhere/")).toEqual(["elsewhere/run_old/1/a.png"]);
    expect(await store.get("run_old/1/a.png")).toBeNull();
    expect((await store.get("run_new/1/a.png"))?.body.toString()).toBe("new");
    // Nothing left to do: a second sweep deletes nothing.
    expect(await store.sweep(cutoff)).toBe(0);
  });

  it("stops a sweep when its signal is aborted", async () => {
    const store = new S3ArtifactStore({ bucket: BUCKET, prefix: "abort/", ...s3.connection });
    await store.put("run_a/1/a.png", Buffer.from("a"), "image/png");
    const controller = new AbortController();
    controller.abort(new Error("shutting down"));
    await expect(store.sweep(new Date(Date.now() + 60_000), { signal: controller.signal })).rejects.toThrow(
      "shutting down",
    );
    expect(await store.get("run_a/1/a.png")).not.toBeNull();
  });
});

describe("createArtifactStore", () => {
  const base = { ARTIFACT_DIR: "unused", S3_REGION: "us-east-1" };

  it("builds an S3 store from the environment's variables", async () => {
    const store = createArtifactStore({
      ...base,
      ARTIFACT_STORE: "s3",
      S3_BUCKET: BUCKET,
      S3_ENDPOINT: s3.endpoint,
      S3_ACCESS_KEY_ID: "S3RVER",
      S3_SECRET_ACCESS_KEY: "S3RVER",
      S3_PREFIX: "factory",
    });
    expect(store).toBeInstanceOf(S3ArtifactStore);
    await store.put("run_f/1/shot.png", Buffer.from("png"), "image/png");
    expect(await listKeys("factory/")).toEqual(["factory/run_f/1/shot.png"]);
    expect(await store.get("run_f/1/shot.png")).toEqual({ body: Buffer.from("png"), contentType: "image/png" });
  });

  it("refuses s3 without a bucket", () => {
    expect(() => createArtifactStore({ ...base, ARTIFACT_STORE: "s3" })).toThrow("S3_BUCKET");
  });
});
