/**
 * A Chrome DevTools Recorder user uploads an export unchanged: every fixture imports through POST
 * /api/recordings (its original kept beside it, as a SaveAction export's is) and POST /api/runs;
 * waitForExpression needs the project's allowExpressions; a body in no known format says what it
 * looks like. The fixtures drive public sites: imported here, never run (no worker).
 */
import { readdirSync, readFileSync } from "node:fs";
import { importRecording } from "@conveyor/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, auth, createProjectViaApi, createTestApp, sampleRecording, type TestApp } from "./helpers.ts";

const CHROME = new URL("../../../../shared/fixtures/chrome-recorder/", import.meta.url);
const SAVEACTION = new URL("../../../../shared/fixtures/saveaction/", import.meta.url);
const files = readdirSync(CHROME).filter((name) => name.endsWith(".json"));
/** puppeteer/replay's own test recordings, made against its local test server. */
const LOCAL = files.filter((name) => /^puppeteer__replay__test__resources__(benchmark|everything)\.json$/.test(name));
const PUBLIC = files.filter((name) => !LOCAL.includes(name));
/** hover, waitForElement and a waitForExpression (steps[6]). */
const WITH_EXPRESSION = "jecfish__recorder-demo__recordings__hover-add-a-coffee.json";

let t: TestApp;
/** A project that allows expressions (every fixture imports), and one that does not. */
let allowing: { id: string; apiKey: string };
let strict: { id: string; apiKey: string };

function fixture(name: string, folder = CHROME): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(name, folder), "utf8"));
}

function post(url: string, apiKey: string, payload: unknown) {
  return t.app.inject({ method: "POST", url, headers: auth(apiKey), payload: payload as object });
}

function get(url: string, apiKey: string) {
  return t.app.inject({ method: "GET", url, headers: auth(apiKey) });
}

function setAllowExpressions(projectId: string, allowExpressions: boolean) {
  return t.app.inject({
    method: "PATCH",
    url: `/api/projects/${projectId}`,
    headers: auth(ADMIN_TOKEN),
    payload: { allowExpressions },
  });
}

beforeAll(async () => {
  t = await createTestApp("chrome-recorder", { bodyLimitBytes: 5 * 1024 * 1024 });
  allowing = await createProjectViaApi(t.app, "chrome allowing");
  strict = await createProjectViaApi(t.app, "chrome strict");
  const patched = await setAllowExpressions(allowing.id, true);
  expect(patched.statusCode, patched.body).toBe(200);
});

afterAll(async () => {
  await t?.close();
});

describe("Chrome DevTools Recorder exports", () => {
  it("has the fixtures", () => {
    expect(files).toHaveLength(29);
  });

  it("has the two made against a local server", () => {
    expect(LOCAL).toEqual([
      "puppeteer__replay__test__resources__benchmark.json",
      "puppeteer__replay__test__resources__everything.json",
    ]);
  });

  it.each(PUBLIC)("stores %s, with its warnings, and keeps the original", async (name) => {
    const body = fixture(name);
    const expected = importRecording(body);
    const response = await post("/api/recordings", allowing.apiKey, body);
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({
      sourceFormat: "chrome-recorder",
      actionCount: expected.recording.actions.length,
      warnings: expected.warnings,
    });
    const id = response.json().id as string;
    const shown = await get(`/api/recordings/${id}`, allowing.apiKey);
    expect(shown.json().recording.actions.map((a: { type: string }) => a.type)).toEqual(
      expected.recording.actions.map((a) => a.type),
    );
    const source = await get(`/api/recordings/${id}/source`, allowing.apiKey);
    expect(source.statusCode, source.body).toBe(200);
    expect(source.headers["content-type"]).toMatch(/^application\/json/);
    expect(source.json()).toEqual(expected.original);
    // Kept as sent: the same keys in the same order.
    expect(source.body).toBe(JSON.stringify(expected.original));
  });

  it.each(LOCAL)("imports %s, whose localhost address the egress policy refuses, naming its step", async (name) => {
    const response = await post("/api/recordings", allowing.apiKey, fixture(name));
    expect(response.statusCode).toBe(422);
    expect(response.json().error).toMatchObject({
      code: "blocked_by_policy",
      message: expect.stringMatching(/^body\.steps\[1\]: opens http:\/\/localhost:8907\/.*\(loopback/),
      details: { fields: [{ field: "body.steps[1]", action: 0 }] },
    });
  });

  it("answers per-step warnings with where they are", async () => {
    const body = fixture("push-based__user-flow__packages__cli__tests__data__userflow-replay.json");
    const response = await post("/api/recordings", allowing.apiKey, body);
    expect(response.json().warnings).toEqual([
      { index: 1, type: "startTimespan", path: "steps[1]", message: expect.stringMatching(/Lighthouse.*skipped/) },
      { index: 5, type: "endTimespan", path: "steps[5]", message: expect.stringMatching(/Lighthouse.*skipped/) },
      { index: 6, type: "snapshot", path: "steps[6]", message: expect.stringMatching(/Lighthouse.*skipped/) },
    ]);
  });

  it("keeps a typed password out of the stored original, as out of the recording", async () => {
    const body = fixture("saucelabs__saucectl__tests__e2e__replay__recording.json");
    const response = await post("/api/recordings", allowing.apiKey, body);
    const id = response.json().id as string;
    const source = await get(`/api/recordings/${id}/source`, allowing.apiKey);
    expect(source.body).not.toContain("secret_sauce");
    expect(source.body).toContain("[redacted]");
    const shown = await get(`/api/recordings/${id}`, allowing.apiKey);
    expect(shown.body).not.toContain("secret_sauce");
    const stored = await t.db.query<{ recording: unknown }>("select recording from recordings where id = $1", [id]);
    expect(JSON.stringify(stored[0]?.recording)).not.toContain("secret_sauce");
  });

  it("runs an export inline with POST /api/runs", async () => {
    const body = fixture("jecfish__recorder-demo__recordings__order-a-coffee.json");
    const response = await post("/api/runs", allowing.apiKey, { recording: body });
    expect(response.statusCode, response.body).toBe(202);
    expect(response.json().counts.total).toBe(importRecording(body).recording.actions.length);
  });

  it("refuses a customStep naming the step", async () => {
    const body = {
      title: "custom",
      steps: [
        { type: "navigate", url: "https://a.test/" },
        { type: "customStep", name: "x" },
      ],
    };
    const response = await post("/api/recordings", allowing.apiKey, body);
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toMatch(/^body\.steps\[1\]: customStep "x": custom steps run code/);
  });
});

describe("the original beside the canonical form", () => {
  it("is kept for a SaveAction export too, wrapper and all", async () => {
    const body = fixture("test-upload.json", SAVEACTION);
    const response = await post("/api/recordings", allowing.apiKey, body);
    expect(response.json().sourceFormat).toBe("saveaction");
    const source = await get(`/api/recordings/${response.json().id}/source`, allowing.apiKey);
    expect(source.statusCode).toBe(200);
    expect(source.json()).toEqual(importRecording(body).original);
    expect(source.json()).toHaveProperty("data.actions");
  });

  it("is the recording itself for a canonical one, and another project's is not found", async () => {
    const canonical = await post("/api/recordings", allowing.apiKey, sampleRecording());
    const id = canonical.json().id as string;
    const source = await get(`/api/recordings/${id}/source`, allowing.apiKey);
    expect(source.statusCode).toBe(404);
    expect(source.json().error.message).toMatch(/sent in the canonical format/);

    const imported = await post("/api/recordings", allowing.apiKey, fixture(files[0] as string));
    const stranger = await get(`/api/recordings/${imported.json().id}/source`, strict.apiKey);
    expect(stranger.statusCode).toBe(404);
    expect(stranger.json().error.message).toMatch(/^No recording/);
  });
});

describe("waitForExpression and allowExpressions", () => {
  it("is off by default, and an operator sets it", async () => {
    const project = await t.app.inject({
      method: "GET",
      url: `/api/projects/${strict.id}`,
      headers: auth(ADMIN_TOKEN),
    });
    expect(project.json().allowExpressions).toBe(false);
    const other = await t.app.inject({
      method: "GET",
      url: `/api/projects/${allowing.id}`,
      headers: auth(ADMIN_TOKEN),
    });
    expect(other.json().allowExpressions).toBe(true);
  });

  it("refuses a recording holding one, naming the step, unless the project allows it", async () => {
    const body = fixture(WITH_EXPRESSION);
    const before = await t.db.query<{ n: number }>("select count(*)::int as n from recordings where project_id = $1", [
      strict.id,
    ]);

    const stored = await post("/api/recordings", strict.apiKey, body);
    expect(stored.statusCode).toBe(403);
    expect(stored.json().error).toMatchObject({
      code: "forbidden",
      message: expect.stringMatching(/^body\.steps\[6\]: waitForExpression .* enable allowExpressions/),
      details: { fields: [{ field: "body.steps[6]", message: expect.any(String) }], setting: "allowExpressions" },
    });
    const inline = await post("/api/runs", strict.apiKey, { recording: body });
    expect(inline.statusCode).toBe(403);
    expect(inline.json().error.message).toMatch(/^body\.recording\.steps\[6\]: waitForExpression/);
    const canonical = await post("/api/recordings", strict.apiKey, {
      name: "canonical",
      actions: [
        { type: "navigate", url: "https://a.test/" },
        { type: "waitForExpression", expression: "window.ready === true" },
      ],
    });
    expect(canonical.statusCode).toBe(403);
    expect(canonical.json().error.message).toMatch(/^body\.actions\[1\]: waitForExpression/);
    const after = await t.db.query<{ n: number }>("select count(*)::int as n from recordings where project_id = $1", [
      strict.id,
    ]);
    expect(after).toEqual(before);

    expect((await setAllowExpressions(strict.id, true)).json().allowExpressions).toBe(true);
    const allowed = await post("/api/recordings", strict.apiKey, body);
    expect(allowed.statusCode, allowed.body).toBe(201);
    const run = await post("/api/runs", strict.apiKey, { recordingId: allowed.json().id });
    expect(run.statusCode, run.body).toBe(202);

    // Switched off again: the stored recording no longer runs either.
    expect((await setAllowExpressions(strict.id, false)).json().allowExpressions).toBe(false);
    const refused = await post("/api/runs", strict.apiKey, { recordingId: allowed.json().id });
    expect(refused.statusCode).toBe(403);
    const index = importRecording(body).recording.actions.findIndex((a) => a.type === "waitForExpression");
    expect(refused.json().error.message).toMatch(new RegExp(`^recording\\.actions\\[${index}\\]: waitForExpression`));
  });
});

describe("a body in no known format", () => {
  it("says what it looks like and what is accepted, not a field path", async () => {
    const cases: [unknown, RegExp][] = [
      [{ hello: "world" }, /^Not a recording in a known format: its fields are "hello"/],
      [
        { title: "x", steps: "all of them" },
        /^This looks like a Chrome DevTools Recorder export, but it is not valid\./,
      ],
      [{ id: "p", name: "s", tests: [{ id: "t", commands: [] }] }, /^This looks like a Selenium IDE project/],
    ];
    for (const [body, message] of cases) {
      const response = await post("/api/recordings", allowing.apiKey, body);
      expect(response.statusCode).toBe(400);
      expect(response.json().error.code).toBe("validation_failed");
      expect(response.json().error.message).toMatch(message);
      expect(response.json().error.message).toMatch(/Chrome DevTools Recorder export \(Export → JSON/);
    }
  });
});
