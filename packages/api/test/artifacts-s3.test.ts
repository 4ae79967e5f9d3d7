/**
 * Artifacts across hosts: a run's failure screenshot, taken by the runner in real Chromium and
 * written through one S3ArtifactStore (the worker's), is served by `GET /api/runs/:id/artifacts/…`
 * of an app holding another S3ArtifactStore on the same bucket (an API replica elsewhere). The
 * S3 server is real (s3rver, started by this file).
 */
import { S3ArtifactStore } from "@conveyor/artifacts";
import { recordingSchema } from "@conveyor/core";
import { BrowserPool, executeRecording, resolveChromium } from "@conveyor/runner";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { startS3Server, type TestS3Server } from "@conveyor/testing/s3-server";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, createProjectViaApi, createTestApp, sampleRecording, type TestApp } from "./helpers.ts";

const BUCKET = "conveyor-api-artifacts";
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let s3: TestS3Server;
let site: FixtureSite;
let pool: BrowserPool;
let t: TestApp;
let project: { id: string; apiKey: string };
/** The worker's store, on "another host": its own client, same bucket and prefix as the API's. */
let workerStore: S3ArtifactStore;

beforeAll(async () => {
  s3 = await startS3Server();
  await s3.createBucket(BUCKET);
  site = await startFixtureSite();
  pool = new BrowserPool({
    executablePath: resolveChromium({ chromiumPath: process.env.CHROMIUM_PATH }).path,
    logger: pino({ level: "silent" }),
  });
  workerStore = new S3ArtifactStore({ bucket: BUCKET, prefix: "conveyor/", ...s3.connection });
  t = await createTestApp("s3artifacts", {
    artifacts: new S3ArtifactStore({ bucket: BUCKET, prefix: "conveyor", ...s3.connection }),
  });
  project = await createProjectViaApi(t.app, "S3 artifacts");
});

afterAll(async () => {
  await t?.close();
  await pool?.close();
  await site?.close();
  workerStore?.destroy();
  await s3?.close();
});

async function createRun(): Promise<string> {
  const response = await t.app.inject({
    method: "POST",
    url: "/api/runs",
    headers: auth(project.apiKey),
    payload: { recording: sampleRecording() },
  });
  expect(response.statusCode, response.body).toBe(202);
  return (response.json() as { id: string }).id;
}

describe("artifacts in S3", () => {
  it("serves the failure screenshot a worker wrote through its own S3 store", async () => {
    const runId = await createRun();
    const result = await executeRecording(pool, {
      recording: recordingSchema.parse({
        name: "fails on purpose",
        actions: [
          { type: "navigate", url: `${site.url}/login` },
          { type: "click", selector: "#no-such-button", timeoutMs: 500 },
        ],
      }),
      actionTimeoutMs: 5_000,
      artifacts: workerStore,
      artifactPrefix: `${runId}/1`,
    });
    expect(result.outcome).toBe("failed");
    const screenshotKey = result.actions.at(-1)?.screenshotKey ?? "";
    expect(screenshotKey).toMatch(new RegExp(`^${runId}/1/action-\\d+-failure\\.png$`));
    const stored = await workerStore.get(screenshotKey);
    expect(stored?.body.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);

    const response = await t.app.inject({
      method: "GET",
      url: `/api/runs/${screenshotKey.replace(`${runId}/`, `${runId}/artifacts/`)}`,
      headers: auth(project.apiKey),
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers["content-type"]).toBe("image/png");
    expect(stored && response.rawPayload.equals(stored.body)).toBe(true);
  });

  it("answers 404 for a missing artifact or a key that leaves the run, and never reads elsewhere", async () => {
    const runId = await createRun();
    const otherRunId = await createRun();
    await workerStore.put(`${otherRunId}/1/shot.png`, Buffer.from("other run"), "image/png");
    for (const path of ["1/missing.png", `..%2F${otherRunId}%2F1%2Fshot.png`]) {
      const response = await t.app.inject({
        method: "GET",
        url: `/api/runs/${runId}/artifacts/${path}`,
        headers: auth(project.apiKey),
      });
      expect(response.statusCode, `${path}: ${response.body}`).toBe(404);
      expect(response.body).not.toContain("other run");
    }
  });
});

describe("a store that cannot answer", () => {
  let broken: TestApp;

  beforeAll(async () => {
    broken = await createTestApp("s3broken", {
      artifacts: new S3ArtifactStore({ bucket: "no-such-bucket", ...s3.connection }),
    });
  });

  afterAll(async () => {
    await broken?.close();
  });

  it("is a 500, not a misleading 404", async () => {
    const owner = await createProjectViaApi(broken.app, "Broken store");
    const created = await broken.app.inject({
      method: "POST",
      url: "/api/runs",
      headers: auth(owner.apiKey),
      payload: { recording: sampleRecording() },
    });
    const runId = (created.json() as { id: string }).id;
    const response = await broken.app.inject({
      method: "GET",
      url: `/api/runs/${runId}/artifacts/1/shot.png`,
      headers: auth(owner.apiKey),
    });
    expect(response.statusCode, response.body).toBe(500);
    expect((response.json() as { error: { code: string } }).error.code).toBe("internal_error");
  });
});
