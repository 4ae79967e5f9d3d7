// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recordings spell variables as ${NAME}
/**
 * GET /api/recordings/:id/export: a stored recording as a Playwright test, a Chrome DevTools
 * Recorder recording or the canonical JSON, as an attachment; never a sensitive value (the stored
 * recording holds them sealed); 400 naming `format`; another project's recording is a 404.
 * (Credentials and scopes: the security walk, security.test.ts, covers this route too.)
 * Real Postgres and Redis through `app.inject`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXPORT_WARNINGS_HEADER, warningsHeader } from "../src/routes/recordings-export.ts";
import { auth, createProjectViaApi, createTestApp, type TestApp } from "./helpers.ts";

const SECRET = "correct-horse-battery-staple";
const VARIABLE_SECRET = "variable-default-secret-42";

const recording = {
  name: 'Checkout: "guest" */ `now`',
  startUrl: "https://shop.example.test/",
  viewport: { width: 1280, height: 720 },
  variables: [
    { name: "PASSWORD", sensitive: true, default: VARIABLE_SECRET },
    { name: "USER", default: "alice" },
  ],
  actions: [
    { type: "input", selector: [{ strategy: "testid", value: "user" }], value: "${USER}" },
    { type: "input", selector: "#password", value: "${PASSWORD}", sensitive: true },
    { type: "input", id: "card", selector: "#card", value: SECRET, sensitive: true },
    { type: "check", selector: "#terms" },
    { type: "click", selector: [{ strategy: "testid", value: "buy" }] },
    { type: "assert", check: "urlContains", expected: "/thanks" },
  ],
};

let t: TestApp;
let owner: string;
let stranger: string;
let id: string;

beforeAll(async () => {
  t = await createTestApp("export");
  owner = (await createProjectViaApi(t.app, "owner")).apiKey;
  stranger = (await createProjectViaApi(t.app, "stranger")).apiKey;
  const created = await t.app.inject({
    method: "POST",
    url: "/api/recordings",
    headers: auth(owner),
    payload: recording,
  });
  expect(created.statusCode, created.body).toBe(201);
  id = created.json().id;
});

afterAll(async () => {
  await t?.close();
});

function get(url: string, key = owner) {
  return t.app.inject({ method: "GET", url, headers: auth(key) });
}

describe("GET /api/recordings/:id/export", () => {
  it("answers a Playwright test by default, as an attachment named after the recording", async () => {
    const response = await get(`/api/recordings/${id}/export`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(response.headers["content-disposition"]).toBe('attachment; filename="checkout-guest-now.spec.ts"');
    expect(response.headers["cache-control"]).toBe("no-store");
    expect(response.headers["x-content-type-options"]).toBe("nosniff");
    expect(response.headers[EXPORT_WARNINGS_HEADER]).toBe("[]");
    const file = response.body;
    expect(file).toContain('import { test, expect } from "@playwright/test";');
    expect(file).toContain('test("Checkout: \\"guest\\" */ `now`", async ({ page, context }) => {');
    expect(file).toContain(`(recording ${id})`);
    expect(file).toContain('await page.getByTestId("user").first().fill(process.env.USER ?? "alice");');
    expect(file).toContain('await page.locator("#password").first().fill(env("PASSWORD"));');
    expect(file).toContain('await page.locator("#card").first().fill(env("SENSITIVE_CARD"));');
    // The app's own ACTION_TIMEOUT_MS and DEFAULT_RUN_TIMEOUT_MS (test helpers: 5 s and 60 s).
    expect(file).toContain("actionTimeout: 5000");
    expect(file).toContain("test.setTimeout(60_000);");

    const same = await get(`/api/recordings/${id}/export?format=playwright`);
    expect(same.body).toBe(file);
  });

  it("answers a Chrome DevTools Recorder recording, with what it could only approximate in a header", async () => {
    const response = await get(`/api/recordings/${id}/export?format=chrome-recorder`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(response.headers["content-disposition"]).toBe('attachment; filename="checkout-guest-now.recorder.json"');
    const flow = response.json();
    expect(flow.title).toBe(recording.name);
    expect(flow.steps.map((step: { type: string }) => step.type)).toEqual([
      "setViewport",
      "navigate",
      "change",
      "change",
      "change",
      "click",
      "click",
      "waitForExpression",
    ]);
    const warnings = JSON.parse(String(response.headers[EXPORT_WARNINGS_HEADER])) as string[];
    expect(warnings).toContain(
      "action 4 (a4, check): checks a checkbox: written as a click, which toggles it whatever its state",
    );
    expect(warnings.some((warning) => warning.startsWith("${PASSWORD} is left as written"))).toBe(true);
  });

  it("answers the canonical recording, which imports again", async () => {
    const response = await get(`/api/recordings/${id}/export?format=conveyor`);
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(response.headers["content-disposition"]).toBe('attachment; filename="checkout-guest-now.conveyor.json"');
    const exported = response.json();
    expect(exported.actions[2]).toMatchObject({ value: "${SENSITIVE_CARD}", sensitive: true });
    expect(exported.variables).toContainEqual({ name: "PASSWORD", sensitive: true });
    const again = await t.app.inject({
      method: "POST",
      url: "/api/recordings",
      headers: auth(owner),
      payload: exported,
    });
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json().actionCount).toBe(recording.actions.length);
  });

  it("never answers a sensitive value, plain or sealed, in any format", async () => {
    for (const format of ["playwright", "chrome-recorder", "conveyor"]) {
      const response = await get(`/api/recordings/${id}/export?format=${format}`);
      expect(response.statusCode).toBe(200);
      for (const secret of [SECRET, VARIABLE_SECRET, "enc:v1:"]) expect(response.body, format).not.toContain(secret);
    }
  });

  it("refuses an unknown format with a 400 naming it", async () => {
    for (const format of ["selenium", "", "PLAYWRIGHT"]) {
      const response = await get(`/api/recordings/${id}/export?format=${format}`);
      expect(response.statusCode, format).toBe(400);
      expect(response.json().error.code).toBe("validation_failed");
      expect(response.json().error.message).toMatch(
        /^querystring\.format: expected one of playwright, chrome-recorder, conveyor/,
      );
    }
  });

  it("answers 404 for another project's recording, an unknown id and an id of another kind", async () => {
    for (const [url, key] of [
      [`/api/recordings/${id}/export`, stranger],
      [`/api/recordings/${id}/export?format=conveyor`, stranger],
      ["/api/recordings/rec_0000000000000000000000000/export", owner],
      ["/api/recordings/run_0000000000000000000000000/export", owner],
    ] as const) {
      const response = await get(url, key);
      expect(response.statusCode, url).toBe(404);
      expect(response.json().error.code).toBe("not_found");
      expect(response.body).not.toContain(SECRET);
    }
  });
});

describe("warningsHeader", () => {
  it("is printable ASCII JSON, cut to fit with a count of what was left out", () => {
    expect(JSON.parse(warningsHeader([{ index: 2, actionId: "a3", type: "check", message: "naïve → ok" }]))).toEqual([
      "action 3 (a3, check): naïve → ok",
    ]);
    expect(warningsHeader([{ message: "é\r\nx" }])).toMatch(/^[\x20-\x7e]+$/);
    const many = Array.from({ length: 500 }, (_, n) => ({ message: `warning number ${n} ${"x".repeat(40)}` }));
    const value = warningsHeader(many);
    expect(value.length).toBeLessThanOrEqual(4000);
    const parsed = JSON.parse(value) as string[];
    expect(parsed.at(-1)).toBe(`… and ${500 - (parsed.length - 1)} more`);
  });
});
