/**
 * A SaveAction user uploads an exported recording unchanged: every real export imports through
 * POST /api/recordings and POST /api/runs; a body that fits neither format is a 400 naming the field.
 */
import { readdirSync, readFileSync } from "node:fs";
import { importRecording } from "@conveyor/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, createProjectViaApi, createTestApp, type TestApp } from "./helpers.ts";

const FIXTURES = new URL("../../../../shared/fixtures/saveaction/", import.meta.url);
const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".json"));

let t: TestApp;
let apiKey: string;

beforeAll(async () => {
  t = await createTestApp("import", { bodyLimitBytes: 5 * 1024 * 1024 });
  apiKey = (await createProjectViaApi(t.app, "import")).apiKey;
});

afterAll(async () => {
  await t?.close();
});

describe("SaveAction exports", () => {
  it("has fixtures to test", () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
  });

  it.each(files)("stores %s unchanged as a recording", async (file) => {
    const body = JSON.parse(readFileSync(new URL(file, FIXTURES), "utf8"));
    const expected = importRecording(body).recording;
    const response = await t.app.inject({
      method: "POST",
      url: "/api/recordings",
      headers: auth(apiKey),
      payload: body,
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({ sourceFormat: "saveaction", actionCount: expected.actions.length });
    const shown = await t.app.inject({
      method: "GET",
      url: `/api/recordings/${response.json().id}`,
      headers: auth(apiKey),
    });
    expect(shown.json().recording.actions.map((a: { type: string }) => a.type)).toEqual(
      expected.actions.map((a) => a.type),
    );
  });

  it("accepts an export inline in POST /api/runs", async () => {
    const body = JSON.parse(readFileSync(new URL("test-upload.json", FIXTURES), "utf8"));
    const response = await t.app.inject({
      method: "POST",
      url: "/api/runs",
      headers: auth(apiKey),
      payload: { recording: body },
    });
    expect(response.statusCode, response.body).toBe(202);
    expect(response.json().counts.total).toBe(importRecording(body).recording.actions.length);
  });

  it("names the wrong field when a body fits neither format, and writes nothing", async () => {
    const before = await t.db.query<{ n: string }>("select count(*)::text as n from recordings");
    const broken = JSON.parse(readFileSync(new URL("test8.json", FIXTURES), "utf8"));
    broken.actions[3].selector = "not-an-object";
    const response = await t.app.inject({
      method: "POST",
      url: "/api/recordings",
      headers: auth(apiKey),
      payload: broken,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe("validation_failed");
    expect(response.json().error.message).toMatch(/^body\.actions\[3\]\.selector/);

    const canonicalTypo = { name: "x", actions: [{ type: "navigate", url: "http://a.test" }, { type: "teleport" }] };
    const typo = await t.app.inject({
      method: "POST",
      url: "/api/runs",
      headers: auth(apiKey),
      payload: { recording: canonicalTypo },
    });
    expect(typo.statusCode).toBe(400);
    expect(typo.json().error.message).toMatch(/^body\.recording\.actions\[1\]\.type: unknown action type "teleport"/);
    const after = await t.db.query<{ n: string }>("select count(*)::text as n from recordings");
    expect(after).toEqual(before);
  });
});
