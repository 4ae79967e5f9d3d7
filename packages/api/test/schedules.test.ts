/**
 * Schedules through the API, on a real Postgres and Redis: definition (validation naming the
 * field, the minimum interval, targets of this project only), the next scheduled times shown,
 * pause and resume, manual triggers (a recording's run, a suite run, while paused, a failed
 * fire), the fire log and its pagination, and tenant isolation.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { auth, createProjectViaApi, createTestApp, DEFAULTS, sampleRecording, type TestApp } from "./helpers.ts";

let t: TestApp;
let p: { id: string; apiKey: string };
let other: { id: string; apiKey: string };

beforeAll(async () => {
  t = await createTestApp("schedules", { scheduleMinIntervalS: 5 });
  p = await createProjectViaApi(t.app, "schedules");
  other = await createProjectViaApi(t.app, "schedules-other");
});

afterAll(async () => {
  await t?.close();
});

async function call(method: "GET" | "POST" | "PATCH" | "DELETE", url: string, payload?: unknown, key = p.apiKey) {
  const response = await t.app.inject({
    method,
    url,
    headers: auth(key),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: response.statusCode, body: response.body ? response.json() : undefined, headers: response.headers };
}

async function recording(name: string, key = p.apiKey): Promise<string> {
  const created = await call("POST", "/api/recordings", sampleRecording(name), key);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id as string;
}

async function suite(name: string, recordingIds: string[], key = p.apiKey): Promise<string> {
  const created = await call("POST", "/api/suites", { name, recordingIds }, key);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body.id as string;
}

async function schedule(body: Record<string, unknown>, key = p.apiKey) {
  const created = await call("POST", "/api/schedules", body, key);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return created.body;
}

/** The 400 of a request, with the field its error names. */
function expectFieldError(response: { status: number; body: { error: unknown } }, field: string, label: string) {
  expect(response.status, `${label}: ${JSON.stringify(response.body)}`).toBe(400);
  const error = response.body.error as { code: string; details?: { fields?: { field: string }[] } };
  expect(error.code, label).toBe("validation_failed");
  expect(
    error.details?.fields?.map((f) => f.field),
    `${label}: ${JSON.stringify(error)}`,
  ).toContain(field);
}

/** Hour and minute of an instant on Berlin's wall clock. */
const berlin = new Intl.DateTimeFormat("en-GB", {
  timeZone: "Europe/Berlin",
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});

describe("schedules", () => {
  it("are created, read, listed, changed and deleted", async () => {
    const rec = await recording("crud");
    const created = await call("POST", "/api/schedules", {
      name: "every five minutes",
      recordingId: rec,
      cron: "*/5 * * * *",
      timezone: "Europe/Berlin",
      overlap: "buffer_one",
      jitterSeconds: 10,
      catchUpWindowSeconds: 120,
      runOverrides: { priority: 3, timeoutMs: 120_000 },
      pauseAfterFailures: 3,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const id = created.body.id as string;
    expect(id).toMatch(/^sch_/);
    expect(created.headers.location).toBe(`/api/schedules/${id}`);
    expect(created.body).toMatchObject({
      name: "every five minutes",
      recordingId: rec,
      suiteId: null,
      cron: "*/5 * * * *",
      timezone: "Europe/Berlin",
      everySeconds: null,
      startAt: null,
      endAt: null,
      jitterSeconds: 10,
      overlap: "buffer_one",
      catchUpWindowSeconds: 120,
      runOverrides: { priority: 3, timeoutMs: 120_000 },
      pauseAfterFailures: 3,
      paused: false,
      pausedAt: null,
      pauseReason: null,
      links: { self: `/api/schedules/${id}`, fires: `/api/schedules/${id}/fires` },
    });
    expect(created.body).not.toHaveProperty("runDefaults");
    expect(created.body.next).toHaveLength(5);
    expect(created.body.nextFireAt).toBe(created.body.next[0]);
    for (const at of created.body.next as string[]) expect(new Date(at).getUTCMinutes() % 5).toBe(0);
    // The API's defaults, saved with it for the workers.
    const [row] = await t.db.query<{ run_defaults: unknown }>("select run_defaults from schedules where id = $1", [id]);
    expect(row?.run_defaults).toEqual({
      timeoutMs: DEFAULTS.runTimeoutMs,
      actionTimeoutMs: DEFAULTS.actionTimeoutMs,
      maxAttempts: DEFAULTS.maxAttempts,
    });

    const { next: _next, ...rest } = created.body;
    expect((await call("GET", `/api/schedules/${id}`)).body).toMatchObject(rest);
    const listed = await call("GET", "/api/schedules?limit=100");
    expect(listed.status).toBe(200);
    expect(listed.body.items.map((s: { id: string }) => s.id)).toContain(id);

    // Fields not sent stay; sending everySeconds clears cron.
    const patched = await call("PATCH", `/api/schedules/${id}`, { name: "hourly", everySeconds: 3600 });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    expect(patched.body).toMatchObject({
      name: "hourly",
      cron: null,
      everySeconds: 3600,
      recordingId: rec,
      overlap: "buffer_one",
      runOverrides: { priority: 3, timeoutMs: 120_000 },
      pauseAfterFailures: 3,
    });
    // Switching the target to a suite clears the recording; null clears pauseAfterFailures.
    const target = await suite("crud suite", [rec]);
    const switched = await call("PATCH", `/api/schedules/${id}`, {
      suiteId: target,
      cron: "0 6 * * 1-5",
      pauseAfterFailures: null,
    });
    expect(switched.status, JSON.stringify(switched.body)).toBe(200);
    expect(switched.body).toMatchObject({
      recordingId: null,
      suiteId: target,
      cron: "0 6 * * 1-5",
      everySeconds: null,
      timezone: "Europe/Berlin",
      pauseAfterFailures: null,
    });

    // Names are unique in a project.
    const duplicate = await call("POST", "/api/schedules", { name: "hourly", recordingId: rec, everySeconds: 60 });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe("conflict");
    await schedule({ name: "taken", recordingId: rec, everySeconds: 60 });
    const renamed = await call("PATCH", `/api/schedules/${id}`, { name: "taken" });
    expect(renamed.status).toBe(409);

    expect((await call("DELETE", `/api/schedules/${id}`)).status).toBe(204);
    expect((await call("GET", `/api/schedules/${id}`)).status).toBe(404);
    expect((await call("GET", `/api/schedules/${id}/fires`)).status).toBe(404);
    expect((await call("DELETE", `/api/schedules/${id}`)).status).toBe(404);
  });

  it("refuse bad definitions with a 400 naming the field", async () => {
    const rec = await recording("bad-def");
    const target = await suite("bad-def suite", [rec]);
    const foreignRecording = await recording("foreign", other.apiKey);
    const foreignSuite = await suite("foreign suite", [foreignRecording], other.apiKey);
    const base = { name: "bad", recordingId: rec, everySeconds: 60 };
    const now = Date.now();
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ["cron field out of range", { ...base, everySeconds: undefined, cron: "61 * * * *" }, "body.cron"],
      ["cron with 3 fields", { ...base, everySeconds: undefined, cron: "* * *" }, "body.cron"],
      ["cron macro", { ...base, everySeconds: undefined, cron: "@daily" }, "body.cron"],
      ["cron that never fires", { ...base, everySeconds: undefined, cron: "0 0 30 2 *" }, "body.cron"],
      [
        "unknown time zone",
        { ...base, everySeconds: undefined, cron: "0 * * * *", timezone: "Mars/Olympus" },
        "body.timezone",
      ],
      ["offset instead of a zone", { ...base, timezone: "+01:00" }, "body.timezone"],
      ["interval below the minimum", { ...base, everySeconds: 4 }, "body.everySeconds"],
      ["interval above 31 days", { ...base, everySeconds: 31 * 86_400 + 1 }, "body.everySeconds"],
      ["interval not an integer", { ...base, everySeconds: 60.5 }, "body.everySeconds"],
      ["both timings", { ...base, cron: "0 * * * *" }, "body.cron"],
      ["no timing", { ...base, everySeconds: undefined }, "body.cron"],
      ["both targets", { ...base, suiteId: target }, "body.recordingId"],
      ["no target", { ...base, recordingId: undefined }, "body.recordingId"],
      ["unknown recording", { ...base, recordingId: "rec_01m8sp00000000000000000000" }, "body.recordingId"],
      ["malformed recording id", { ...base, recordingId: "not-an-id" }, "body.recordingId"],
      ["another project's recording", { ...base, recordingId: foreignRecording }, "body.recordingId"],
      ["another project's suite", { ...base, recordingId: undefined, suiteId: foreignSuite }, "body.suiteId"],
      [
        "startAt after endAt",
        {
          ...base,
          startAt: new Date(now + 2 * 86_400_000).toISOString(),
          endAt: new Date(now + 86_400_000).toISOString(),
        },
        "body.endAt",
      ],
      ["endAt in the past", { ...base, endAt: new Date(now - 1000).toISOString() }, "body.endAt"],
      ["startAt not a date", { ...base, startAt: "tomorrow" }, "body.startAt"],
      ["jitter above an hour", { ...base, jitterSeconds: 3601 }, "body.jitterSeconds"],
      ["unknown overlap policy", { ...base, overlap: "sometimes" }, "body.overlap"],
      ["catch-up window above a day", { ...base, catchUpWindowSeconds: 86_401 }, "body.catchUpWindowSeconds"],
      ["priority out of range", { ...base, runOverrides: { priority: 0 } }, "body.runOverrides.priority"],
      ["timeout too short", { ...base, runOverrides: { timeoutMs: 10 } }, "body.runOverrides.timeoutMs"],
      ["pauseAfterFailures 0", { ...base, pauseAfterFailures: 0 }, "body.pauseAfterFailures"],
      ["empty name", { ...base, name: "" }, "body.name"],
      ["runDefaults are not the client's", { ...base, runDefaults: { maxAttempts: 9 } }, "body"],
    ];
    for (const [label, payload, field] of cases) {
      expectFieldError(await call("POST", "/api/schedules", payload), field, label);
    }
    expect(
      (await call("GET", "/api/schedules?limit=100")).body.items.map((s: { name: string }) => s.name),
    ).not.toContain("bad");

    // A cron error says which field of the expression is wrong.
    const cron = await call("POST", "/api/schedules", { ...base, everySeconds: undefined, cron: "0 25 * * *" });
    expect(cron.body.error.message).toContain("hour");

    // PATCH is validated the same way, on the merged settings.
    const created = await schedule({ name: "patched-bad", recordingId: rec, everySeconds: 60 });
    const url = `/api/schedules/${created.id}`;
    expectFieldError(await call("PATCH", url, { cron: "* * * * * *" }), "body.cron", "PATCH bad cron");
    expectFieldError(await call("PATCH", url, { timezone: "Mars/Olympus" }), "body.timezone", "PATCH bad zone");
    expectFieldError(await call("PATCH", url, { everySeconds: 1 }), "body.everySeconds", "PATCH short interval");
    expectFieldError(await call("PATCH", url, { recordingId: null }), "body.recordingId", "PATCH no target");
    expectFieldError(await call("PATCH", url, { everySeconds: null }), "body.cron", "PATCH no timing");
    expectFieldError(
      await call("PATCH", url, { suiteId: foreignSuite }),
      "body.suiteId",
      "PATCH another project's suite",
    );
    expectFieldError(
      await call("PATCH", url, {
        startAt: new Date(now + 86_400_000).toISOString(),
        endAt: new Date(now + 3_600_000).toISOString(),
      }),
      "body.endAt",
      "PATCH endAt before startAt",
    );
    expect((await call("GET", url)).body).toMatchObject({ recordingId: rec, everySeconds: 60, cron: null });
  });

  it("respect the project's priority limit", async () => {
    const limited = await createProjectViaApi(t.app, "schedules-limited");
    await t.db.query(`update projects set limits = '{"maxPriority": 4}'::jsonb where id = $1`, [limited.id]);
    const rec = await recording("limited", limited.apiKey);
    const base = { name: "urgent", recordingId: rec, everySeconds: 60 };
    expectFieldError(
      await call("POST", "/api/schedules", { ...base, runOverrides: { priority: 2 } }, limited.apiKey),
      "body.runOverrides.priority",
      "too urgent",
    );
    const allowed = await call("POST", "/api/schedules", { ...base, runOverrides: { priority: 4 } }, limited.apiKey);
    expect(allowed.status, JSON.stringify(allowed.body)).toBe(201);
  });

  it("refuse a cron expression that fires more often than SCHEDULE_MIN_INTERVAL_S", async () => {
    const strict = await createTestApp("schedules-min", { scheduleMinIntervalS: 120 });
    try {
      const owner = await createProjectViaApi(strict.app, "strict");
      const headers = auth(owner.apiKey);
      const rec = await strict.app.inject({
        method: "POST",
        url: "/api/recordings",
        headers,
        payload: sampleRecording("strict"),
      });
      const recordingId = rec.json().id as string;
      const post = async (body: Record<string, unknown>) => {
        const response = await strict.app.inject({
          method: "POST",
          url: "/api/schedules",
          headers,
          payload: { recordingId, ...body },
        });
        return { status: response.statusCode, body: response.json() };
      };
      // Every minute: 60 s apart.
      const everyMinute = await post({ name: "every minute", cron: "* * * * *" });
      expectFieldError(everyMinute, "body.cron", "* * * * *");
      expect(everyMinute.body.error.message).toContain("120");
      // Two minutes in a row once an hour.
      expectFieldError(await post({ name: "pair", cron: "0,1 * * * *" }), "body.cron", "0,1 * * * *");
      // Minute 59 then minute 0 of the next hour.
      expectFieldError(await post({ name: "wrap", cron: "0,59 * * * *" }), "body.cron", "0,59 * * * *");
      expectFieldError(await post({ name: "interval", everySeconds: 60 }), "body.everySeconds", "everySeconds 60");
      expect((await post({ name: "two minutes", cron: "*/2 * * * *" })).status).toBe(201);
      expect((await post({ name: "hourly", cron: "0 * * * *" })).status).toBe(201);
      expect((await post({ name: "every 120 s", everySeconds: 120 })).status).toBe(201);
    } finally {
      await strict.close();
    }
  });

  it("show their next 5 scheduled times: 02:30 Berlin time, an interval, start and end bounds", async () => {
    const rec = await recording("next");
    const nightly = await schedule({
      name: "nightly Berlin",
      recordingId: rec,
      cron: "30 2 * * *",
      timezone: "Europe/Berlin",
    });
    const times = (nightly.next as string[]).map((at) => new Date(at).getTime());
    expect(times).toHaveLength(5);
    for (const [i, at] of times.entries()) {
      expect(new Date(at).toISOString()).toBe(nightly.next[i]);
      expect(berlin.format(at)).toBe("02:30");
      if (i > 0) expect(at).toBeGreaterThan(times[i - 1] as number);
    }
    expect(times[0]).toBeGreaterThan(Date.now() - 60_000);

    const hourly = await schedule({ name: "hourly", recordingId: rec, everySeconds: 3600 });
    const hours = (hourly.next as string[]).map((at) => new Date(at).getTime());
    expect(hours).toHaveLength(5);
    for (let i = 1; i < hours.length; i++) expect((hours[i] as number) - (hours[i - 1] as number)).toBe(3_600_000);
    // Without a startAt, intervals are anchored at the epoch: on the hour.
    expect((hours[0] as number) % 3_600_000).toBe(0);

    // Anchored at startAt; endAt is the last possible time (inclusive).
    const startAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 86_400_000 + 17_000);
    const bounded = await schedule({
      name: "bounded",
      recordingId: rec,
      everySeconds: 3600,
      startAt: startAt.toISOString(),
      endAt: new Date(startAt.getTime() + 2 * 3_600_000).toISOString(),
    });
    expect(bounded.next).toEqual([0, 1, 2].map((h) => new Date(startAt.getTime() + h * 3_600_000).toISOString()));
    expect(bounded.nextFireAt).toBe(startAt.toISOString());
    expect(bounded.startAt).toBe(startAt.toISOString());
  });

  it("pause with a reason and resume from now", async () => {
    const rec = await recording("pause");
    const created = await schedule({ name: "pausable", recordingId: rec, everySeconds: 30 });
    const url = `/api/schedules/${created.id}`;

    const paused = await call("POST", `${url}/pause`, { reason: "maintenance window" });
    expect(paused.status, JSON.stringify(paused.body)).toBe(200);
    expect(paused.body).toMatchObject({ paused: true, pauseReason: "maintenance window" });
    expect(paused.body.pausedAt).not.toBeNull();
    // Still shows what it would do.
    expect(paused.body.next).toHaveLength(5);
    expect((await call("GET", url)).body).toMatchObject({ paused: true, pauseReason: "maintenance window" });
    // A change keeps the pause.
    expect((await call("PATCH", url, { name: "pausable renamed" })).body).toMatchObject({ paused: true });

    const resumed = await call("POST", `${url}/resume`);
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body).toMatchObject({ paused: false, pausedAt: null, pauseReason: null });
    expect(new Date(resumed.body.nextFireAt).getTime()).toBeGreaterThan(Date.now() - 1000);

    // Without a body: the default reason.
    const again = await t.app.inject({ method: "POST", url: `${url}/pause`, headers: auth(p.apiKey) });
    expect(again.statusCode, again.body).toBe(200);
    expect(again.json()).toMatchObject({ paused: true, pauseReason: "paused by a user" });
    expectFieldError(await call("POST", `${url}/pause`, { reason: "x".repeat(501) }), "body.reason", "long reason");
    expectFieldError(await call("POST", `${url}/pause`, { why: "no" }), "body", "unknown field");
  });

  it("trigger a recording's run now, logged as a manual fire, also while paused", async () => {
    const rec = await recording("trigger");
    const created = await schedule({
      name: "triggered",
      recordingId: rec,
      cron: "0 3 * * *",
      runOverrides: { priority: 3, timeoutMs: 120_000, options: { screenshots: "every" } },
    });
    const url = `/api/schedules/${created.id}`;
    const before = Date.now();
    const triggered = await call("POST", `${url}/trigger`);
    expect(triggered.status, JSON.stringify(triggered.body)).toBe(202);
    const { fire, runs } = triggered.body;
    expect(runs).toHaveLength(1);
    const run = runs[0];
    expect(run).toMatchObject({
      recordingId: rec,
      status: "queued",
      scheduleId: created.id,
      suiteRunId: null,
      priority: 3,
      timeoutMs: 120_000,
      actionTimeoutMs: DEFAULTS.actionTimeoutMs,
      maxAttempts: DEFAULTS.maxAttempts,
      options: { screenshots: "every" },
    });
    expect(fire).toMatchObject({ outcome: "started", manual: true, runId: run.id, suiteRunId: null, reason: null });
    expect(new Date(fire.scheduledAt).getTime()).toBeGreaterThanOrEqual(before);

    await t.runQueue.settle();
    const job = await t.inspectQueue.getJob(run.id);
    expect(job?.data).toEqual({ runId: run.id, projectId: p.id });
    expect(job?.opts.priority).toBe(3);
    expect((await call("GET", `/api/runs/${run.id}`)).body).toMatchObject({ scheduleId: created.id });
    const events = await t.db.query<{ type: string; data: Record<string, unknown> }>(
      "select type, data from run_events where run_id = $1",
      [run.id],
    );
    expect(events).toEqual([
      { type: "queued", data: { priority: 3, scheduleId: created.id, scheduledAt: fire.scheduledAt } },
    ]);

    const log = await call("GET", `${url}/fires`);
    expect(log.status).toBe(200);
    expect(log.body).toEqual({ items: [fire], nextCursor: null });

    // Paused, and its first run still queued (overlap: skip): a manual fire starts a run anyway.
    expect((await call("POST", `${url}/pause`, { reason: "quiet" })).status).toBe(200);
    const whilePaused = await call("POST", `${url}/trigger`);
    expect(whilePaused.status, JSON.stringify(whilePaused.body)).toBe(202);
    expect(whilePaused.body.fire).toMatchObject({ outcome: "started", manual: true });
    expect(whilePaused.body.runs[0].id).not.toBe(run.id);
    expect((await call("GET", url)).body).toMatchObject({ paused: true, pauseReason: "quiet" });
    await t.runQueue.settle();
    expect(await t.inspectQueue.getJob(whilePaused.body.runs[0].id)).toBeDefined();

    // Deleting the schedule keeps its runs.
    expect((await call("DELETE", url)).status).toBe(204);
    expect((await call("GET", `/api/runs/${run.id}`)).body).toMatchObject({ status: "queued", scheduleId: null });
  });

  it("trigger a suite run (one run per recording, each with scheduleId)", async () => {
    const a = await recording("suite a");
    const b = await recording("suite b");
    const target = await suite("scheduled suite", [a, b]);
    const created = await schedule({ name: "suite nightly", suiteId: target, cron: "0 1 * * *" });
    const triggered = await call("POST", `/api/schedules/${created.id}/trigger`);
    expect(triggered.status, JSON.stringify(triggered.body)).toBe(202);
    const { fire, runs } = triggered.body;
    expect(fire).toMatchObject({ outcome: "started", manual: true, runId: null });
    expect(fire.suiteRunId).toMatch(/^srn_/);
    expect(runs.map((r: { recordingId: string }) => r.recordingId)).toEqual([a, b]);
    for (const run of runs) {
      expect(run).toMatchObject({ status: "queued", scheduleId: created.id, suiteRunId: fire.suiteRunId });
    }
    const suiteRun = await call("GET", `/api/suite-runs/${fire.suiteRunId}`);
    expect(suiteRun.body).toMatchObject({ suiteId: target, total: 2, status: "queued" });
    await t.runQueue.settle();
    for (const run of runs)
      expect((await t.inspectQueue.getJob(run.id))?.data).toEqual({ runId: run.id, projectId: p.id });
  });

  it("log a fire that could start nothing as failed, with the reason", async () => {
    const gone = await recording("gone");
    const target = await suite("emptied", [gone]);
    const created = await schedule({ name: "emptied", suiteId: target, everySeconds: 3600 });
    expect((await call("DELETE", `/api/recordings/${gone}`)).status).toBe(204);
    const triggered = await call("POST", `/api/schedules/${created.id}/trigger`);
    expect(triggered.status).toBe(202);
    expect(triggered.body.runs).toEqual([]);
    expect(triggered.body.fire).toMatchObject({ outcome: "failed", manual: true, runId: null, suiteRunId: null });
    expect(triggered.body.fire.reason).toContain("selects no recording");
  });

  it("answer 409 to a second trigger at the same instant", async () => {
    const created = await schedule({ name: "same instant", recordingId: await recording("instant"), everySeconds: 60 });
    vi.useFakeTimers({ toFake: ["Date"], now: new Date() });
    try {
      expect((await call("POST", `/api/schedules/${created.id}/trigger`)).status).toBe(202);
      const second = await call("POST", `/api/schedules/${created.id}/trigger`);
      expect(second.status).toBe(409);
      expect(second.body.error.code).toBe("conflict");
    } finally {
      vi.useRealTimers();
    }
    const [{ n }] = (await t.db.query<{ n: number }>("select count(*)::int as n from runs where schedule_id = $1", [
      created.id,
    ])) as [{ n: number }];
    expect(n).toBe(1);
  });

  it("page their fire log newest first", async () => {
    const created = await schedule({ name: "paged", recordingId: await recording("paged"), everySeconds: 60 });
    const url = `/api/schedules/${created.id}/fires`;
    const fired: string[] = [];
    for (let i = 0; i < 3; i++) {
      const triggered = await call("POST", `/api/schedules/${created.id}/trigger`);
      expect(triggered.status).toBe(202);
      fired.push(triggered.body.fire.runId);
      await sleep(3);
    }
    const first = await call("GET", `${url}?limit=2`);
    expect(first.status).toBe(200);
    expect(first.body.items.map((f: { runId: string }) => f.runId)).toEqual([fired[2], fired[1]]);
    expect(first.body.nextCursor).toMatch(/^\d+$/);
    const second = await call("GET", `${url}?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((f: { runId: string }) => f.runId)).toEqual([fired[0]]);
    expect(second.body.nextCursor).toBeNull();
    expectFieldError(await call("GET", `${url}?cursor=abc`), "querystring.cursor", "non-numeric cursor");
    expectFieldError(await call("GET", `${url}?cursor=-1`), "querystring.cursor", "negative cursor");
    expectFieldError(await call("GET", `${url}?limit=0`), "querystring.limit", "limit 0");
  });

  it("are 404 to another project's key on every route, and for malformed ids", async () => {
    const created = await schedule({ name: "isolated", recordingId: await recording("isolated"), everySeconds: 60 });
    const id = created.id as string;
    const routes: Array<["GET" | "POST" | "PATCH" | "DELETE", string, unknown]> = [
      ["GET", `/api/schedules/${id}`, undefined],
      ["PATCH", `/api/schedules/${id}`, { name: "stolen" }],
      ["POST", `/api/schedules/${id}/pause`, {}],
      ["POST", `/api/schedules/${id}/resume`, undefined],
      ["POST", `/api/schedules/${id}/trigger`, undefined],
      ["GET", `/api/schedules/${id}/fires`, undefined],
      ["DELETE", `/api/schedules/${id}`, undefined],
    ];
    for (const [method, url, payload] of routes) {
      const response = await call(method, url, payload, other.apiKey);
      expect(response.status, `${method} ${url}`).toBe(404);
      expect(response.body.error.code).toBe("not_found");
      const malformed = await call(method, url.replace(id, "ste_01m8sp00000000000000000000"), payload);
      expect(malformed.status, `${method} ${url} with a suite id`).toBe(404);
    }
    const list = await call("GET", "/api/schedules", undefined, other.apiKey);
    expect(list.body.items.map((s: { id: string }) => s.id)).not.toContain(id);
    // Untouched.
    expect((await call("GET", `/api/schedules/${id}`)).body).toMatchObject({ name: "isolated", paused: false });
    expect((await call("GET", `/api/schedules/${id}/fires`)).body.items).toEqual([]);
  });

  it("list newest first with a cursor", async () => {
    const own = await createProjectViaApi(t.app, "schedules-list");
    const rec = await recording("list", own.apiKey);
    const ids: string[] = [];
    for (const name of ["one", "two", "three"]) {
      ids.push((await schedule({ name, recordingId: rec, everySeconds: 60 }, own.apiKey)).id);
    }
    const first = await call("GET", "/api/schedules?limit=2", undefined, own.apiKey);
    expect(first.body.items.map((s: { id: string }) => s.id)).toEqual([ids[2], ids[1]]);
    const second = await call("GET", `/api/schedules?limit=2&cursor=${first.body.nextCursor}`, undefined, own.apiKey);
    expect(second.body.items.map((s: { id: string }) => s.id)).toEqual([ids[0]]);
    expect(second.body.nextCursor).toBeNull();
  });
});
