/**
 * Alert rules and maintenance windows through the API, on real Postgres and Redis: created, read,
 * listed and deleted; bad definitions refused with a 400 naming the field (scope values and
 * channels must be this project's); another project sees none of them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, createProjectViaApi, createTestApp, sampleRecording, type TestApp } from "./helpers.ts";

let t: TestApp;
let p: { id: string; apiKey: string };
let other: { id: string; apiKey: string };
let channelId: string;
let otherChannelId: string;
let n = 0;

async function channel(projectId: string): Promise<string> {
  n += 1;
  const id = `chn_alerts${String(n).padStart(20, "0")}`;
  await t.db.query(
    "insert into channels (id, project_id, name, type, target_sealed, target_hint) values ($1, $2, $3, 'webhook', 'sealed', 'https://hooks.test')",
    [id, projectId, `c${n}`],
  );
  return id;
}

beforeAll(async () => {
  t = await createTestApp("alert-rules");
  p = await createProjectViaApi(t.app, "alerts");
  other = await createProjectViaApi(t.app, "alerts-other");
  channelId = await channel(p.id);
  otherChannelId = await channel(other.id);
});

afterAll(async () => {
  await t?.close();
});

async function call(method: "GET" | "POST" | "DELETE", url: string, payload?: unknown, key = p.apiKey) {
  const response = await t.app.inject({
    method,
    url,
    headers: auth(key),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: response.statusCode, body: response.body ? response.json() : undefined, headers: response.headers };
}

function expectFieldError(response: { status: number; body: any }, field: string, label: string) {
  expect(response.status, `${label}: ${JSON.stringify(response.body)}`).toBe(400);
  expect(
    (response.body.error.details?.fields as { field: string }[] | undefined)?.map((f) => f.field),
    `${label}: ${JSON.stringify(response.body)}`,
  ).toContain(field);
}

describe("alert rules", () => {
  it("are created, read, listed and deleted, and another project sees none", async () => {
    const recording = await call("POST", "/api/recordings", sampleRecording("alerted"));
    expect(recording.status).toBe(201);
    const created = await call("POST", "/api/alert-rules", {
      name: "checkout failing",
      scope: "recording",
      scopeValue: recording.body.id,
      events: ["run.failed", "run.recovered"],
      afterConsecutiveFailures: 2,
      remindEveryHours: 4,
      channelIds: [channelId],
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.headers.location).toBe(`/api/alert-rules/${created.body.id}`);
    expect(created.body).toMatchObject({
      id: expect.stringMatching(/^alr_/),
      scope: "recording",
      scopeValue: recording.body.id,
      events: ["run.failed", "run.recovered"],
      afterConsecutiveFailures: 2,
      remindEveryHours: 4,
      channelIds: [channelId],
      enabled: true,
    });
    const defaults = await call("POST", "/api/alert-rules", {
      name: "everything",
      events: ["run.failed"],
      channelIds: [channelId],
    });
    expect(defaults.body).toMatchObject({
      scope: "project",
      scopeValue: null,
      afterConsecutiveFailures: 1,
      remindEveryHours: null,
    });
    expect((await call("GET", `/api/alert-rules/${created.body.id}`)).body).toEqual(created.body);
    const list = await call("GET", "/api/alert-rules?limit=1");
    expect(list.body.items.map((rule: { id: string }) => rule.id)).toEqual([defaults.body.id]);
    const next = await call("GET", `/api/alert-rules?limit=1&cursor=${list.body.nextCursor}`);
    expect(next.body.items.map((rule: { id: string }) => rule.id)).toEqual([created.body.id]);

    expect((await call("GET", `/api/alert-rules/${created.body.id}`, undefined, other.apiKey)).status).toBe(404);
    expect((await call("GET", "/api/alert-rules", undefined, other.apiKey)).body.items).toEqual([]);
    expect((await call("DELETE", `/api/alert-rules/${created.body.id}`, undefined, other.apiKey)).status).toBe(404);
    expect(
      (await call("POST", "/api/alert-rules", { name: "everything", events: ["run.failed"], channelIds: [channelId] }))
        .status,
    ).toBe(409);

    expect((await call("DELETE", `/api/alert-rules/${created.body.id}`)).status).toBe(204);
    expect((await call("GET", `/api/alert-rules/${created.body.id}`)).status).toBe(404);
    expect((await call("GET", "/api/alert-rules/alr_nope")).status).toBe(404);
  });

  it("refuse bad definitions with a 400 naming the field", async () => {
    const base = { name: "bad", events: ["run.failed"], channelIds: [channelId] };
    expectFieldError(await call("POST", "/api/alert-rules", { ...base, events: [] }), "body.events", "no events");
    expectFieldError(
      await call("POST", "/api/alert-rules", { ...base, events: ["run.exploded"] }),
      "body.events[0]",
      "unknown event",
    );
    expectFieldError(
      await call("POST", "/api/alert-rules", { ...base, channelIds: [otherChannelId] }),
      "body.channelIds[0]",
      "another project's channel",
    );
    expectFieldError(
      await call("POST", "/api/alert-rules", { ...base, channelIds: [] }),
      "body.channelIds",
      "no channel",
    );
    expectFieldError(
      await call("POST", "/api/alert-rules", { ...base, afterConsecutiveFailures: 0 }),
      "body.afterConsecutiveFailures",
      "zero",
    );
    expectFieldError(
      await call("POST", "/api/alert-rules", { ...base, remindEveryHours: 1000 }),
      "body.remindEveryHours",
      "too rare",
    );
    expectFieldError(
      await call("POST", "/api/alert-rules", { ...base, scope: "recording" }),
      "body.scopeValue",
      "missing value",
    );
    expectFieldError(
      await call("POST", "/api/alert-rules", { ...base, scope: "suite", scopeValue: "ste_missing" }),
      "body.scopeValue",
      "unknown suite",
    );
    expectFieldError(
      await call("POST", "/api/alert-rules", { ...base, scopeValue: "x" }),
      "body.scopeValue",
      "value with project",
    );
    expectFieldError(
      await call("POST", "/api/alert-rules", { ...base, scope: "tag", scopeValue: "Not A Tag!" }),
      "body.scopeValue",
      "bad tag",
    );
    expectFieldError(await call("POST", "/api/alert-rules", { ...base, surprise: true }), "body", "unknown field");
  });
});

describe("maintenance windows", () => {
  it("are created (active now, or later), listed, read and deleted; bad ones are a 400 naming the field", async () => {
    const now = Date.now();
    const active = await call("POST", "/api/maintenance-windows", {
      endsAt: new Date(now + 3_600_000).toISOString(),
      mode: "silence",
      reason: "deploy",
    });
    expect(active.status, JSON.stringify(active.body)).toBe(201);
    expect(active.body).toMatchObject({
      id: expect.stringMatching(/^mnt_/),
      scope: "project",
      mode: "silence",
      active: true,
      reason: "deploy",
    });
    const later = await call("POST", "/api/maintenance-windows", {
      startsAt: new Date(now + 86_400_000).toISOString(),
      endsAt: new Date(now + 90_000_000).toISOString(),
      mode: "pause",
      scope: "tag",
      scopeValue: "nightly",
    });
    expect(later.body).toMatchObject({ active: false, mode: "pause", scope: "tag", scopeValue: "nightly" });
    expect((await call("GET", "/api/maintenance-windows")).body.items).toHaveLength(2);
    expect((await call("GET", `/api/maintenance-windows/${later.body.id}`)).body).toEqual(later.body);
    expect((await call("GET", `/api/maintenance-windows/${later.body.id}`, undefined, other.apiKey)).status).toBe(404);

    const end = new Date(now + 3_600_000).toISOString();
    expectFieldError(
      await call("POST", "/api/maintenance-windows", { endsAt: new Date(now - 1000).toISOString(), mode: "silence" }),
      "body.endsAt",
      "past",
    );
    expectFieldError(
      await call("POST", "/api/maintenance-windows", {
        startsAt: end,
        endsAt: new Date(now + 1000).toISOString(),
        mode: "silence",
      }),
      "body.endsAt",
      "before start",
    );
    expectFieldError(
      await call("POST", "/api/maintenance-windows", {
        endsAt: new Date(now + 40 * 86_400_000).toISOString(),
        mode: "silence",
      }),
      "body.endsAt",
      "too long",
    );
    expectFieldError(
      await call("POST", "/api/maintenance-windows", { endsAt: end, mode: "snooze" }),
      "body.mode",
      "mode",
    );
    expectFieldError(
      await call("POST", "/api/maintenance-windows", { endsAt: "tomorrow", mode: "pause" }),
      "body.endsAt",
      "date",
    );

    expect((await call("DELETE", `/api/maintenance-windows/${active.body.id}`)).status).toBe(204);
    expect((await call("GET", "/api/maintenance-windows")).body.items).toHaveLength(1);
  });
});
