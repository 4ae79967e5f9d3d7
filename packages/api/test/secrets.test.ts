/**
 * Sensitive values at rest: sealed with SECRETS_KEY before they reach Postgres, never returned,
 * and refused with a 400 naming the field when the server has no key. Also: non-JSON bodies.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, createProjectViaApi, createTestApp, type TestApp } from "./helpers.ts";

const SECRET = "hunter2-but-longer-0x5eed";

const recording = {
  name: "secrets",
  variables: [{ name: "TOKEN", sensitive: true }, { name: "PLAIN" }],
  actions: [
    { type: "navigate", url: "https://example.test/${PLAIN}" },
    { type: "input", selector: "#password", value: SECRET, sensitive: true },
    { type: "input", selector: "#token", value: "${TOKEN}" },
  ],
};

let withKey: TestApp;
let withoutKey: TestApp;
let keyA: string;
let keyB: string;

beforeAll(async () => {
  [withKey, withoutKey] = await Promise.all([
    createTestApp("secrets-key"),
    createTestApp("secrets-nokey", { secretsKey: undefined }),
  ]);
  keyA = (await createProjectViaApi(withKey.app, "a")).apiKey;
  keyB = (await createProjectViaApi(withoutKey.app, "b")).apiKey;
});

afterAll(async () => {
  await Promise.all([withKey?.close(), withoutKey?.close()]);
});

async function databaseText(t: TestApp): Promise<string> {
  const rows = await t.db.query<{ row: string }>(
    "select r::text as row from runs r union all select c::text from recordings c union all select e::text from run_events e",
  );
  return rows.map((r) => r.row).join("\n");
}

describe("with SECRETS_KEY", () => {
  it("stores sensitive inputs and sensitive variables sealed and never returns them", async () => {
    const stored = await withKey.app.inject({
      method: "POST",
      url: "/api/recordings",
      headers: auth(keyA),
      payload: recording,
    });
    expect(stored.statusCode, stored.body).toBe(201);
    const run = await withKey.app.inject({
      method: "POST",
      url: "/api/runs",
      headers: auth(keyA),
      payload: { recording, variables: { TOKEN: SECRET, PLAIN: "visible" } },
    });
    expect(run.statusCode, run.body).toBe(202);
    const shown = await withKey.app.inject({
      method: "GET",
      url: `/api/recordings/${stored.json().id}`,
      headers: auth(keyA),
    });
    expect(shown.json().recording.actions[1].value).toBe("[redacted]");
    expect(shown.json().recording.actions[2].value).toBe("${TOKEN}");
    for (const response of [stored, run, shown]) expect(response.body).not.toContain(SECRET);

    const dump = await databaseText(withKey);
    expect(dump).toContain(run.json().id);
    expect(dump).not.toContain(SECRET);
    expect(dump).toMatch(/enc:v1:/);
    // A variable not declared sensitive is kept as is (it is a value, not a secret).
    expect(dump).toContain("visible");
  });
});

describe("without SECRETS_KEY", () => {
  it("refuses a sensitive input value with a 400 naming the field, and writes nothing", async () => {
    const response = await withoutKey.app.inject({
      method: "POST",
      url: "/api/runs",
      headers: auth(keyB),
      payload: { recording },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toMatch(/^body\.recording\.actions\[1\]\.value: is sensitive.*SECRETS_KEY/);
    expect(response.body).not.toContain(SECRET);
    expect(await databaseText(withoutKey)).toBe("");
  });

  it("refuses a value for a sensitive variable, naming it", async () => {
    const plain = { ...recording, actions: [recording.actions[0], recording.actions[2]] };
    const response = await withoutKey.app.inject({
      method: "POST",
      url: "/api/runs",
      headers: auth(keyB),
      payload: { recording: plain, variables: { TOKEN: SECRET } },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toMatch(/^body\.variables\.TOKEN: is sensitive/);
    expect(await databaseText(withoutKey)).toBe("");
  });
});

describe("content types", () => {
  it("answers 415 to a body that is not JSON", async () => {
    const response = await withKey.app.inject({
      method: "POST",
      url: "/api/runs",
      headers: { ...auth(keyA), "content-type": "text/plain" },
      payload: "recording please",
    });
    expect(response.statusCode).toBe(415);
    expect(response.json().error.code).toBe("unsupported_media_type");
  });
});
