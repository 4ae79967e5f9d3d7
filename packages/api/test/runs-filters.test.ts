/**
 * `GET /api/runs` filters, through `app.inject` on real Postgres and Redis: `flaky`,
 * `recordingId`, `scheduleId` (a recording schedule's runs, and a suite schedule's through its
 * suite run) and `suiteId` each return exactly the matching runs, newest first and paginated;
 * filters combine with AND (with `status` and the CI ones too); another project's runs never
 * appear, whatever ids are asked for; a bad value is a 400 naming the parameter.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, createProjectViaApi, createTestApp, sampleRecording, type TestApp } from "./helpers.ts";

let t: TestApp;
let p: { id: string; apiKey: string };
let other: { id: string; apiKey: string };

/** Project p's ids. */
const ids = {
  recA: "",
  recB: "",
  suiteAB: "",
  suiteB: "",
  scheduleA: "",
  scheduleSuiteB: "",
  /** recA, passed and flaky, CI branch main. */
  flakyA: "",
  /** recA, failed, CI branch main. */
  failedA: "",
  /** An inline recording's run (no recordingId). */
  inline: "",
  /** recA, started by scheduleA. */
  scheduledA: "",
  /** The children of a suite run of suiteAB (recA, recB). */
  suiteChildA: "",
  suiteChildB: "",
  /** The child (recB) of the suite run scheduleSuiteB started. */
  scheduledSuiteChildB: "",
};
/** Project other's ids. */
const theirs = { rec: "", flaky: "", suite: "", schedule: "" };

async function call(method: "GET" | "POST", url: string, payload?: unknown, key = p.apiKey) {
  const response = await t.app.inject({
    method,
    url,
    headers: auth(key),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: response.statusCode, body: response.body ? response.json() : undefined };
}

async function create(url: string, payload: unknown, key = p.apiKey): Promise<any> {
  const response = await call("POST", url, payload, key);
  expect(response.status, `${url}: ${JSON.stringify(response.body)}`).toBeLessThan(300);
  return response.body;
}

/** Ids of every run of `GET /api/runs?<query>`, read page by page (2 a page), in the order given. */
async function listed(query: string, key = p.apiKey): Promise<string[]> {
  const found: string[] = [];
  let cursor: string | null = null;
  do {
    const url: string = `/api/runs?limit=2&${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const page = await call("GET", url, undefined, key);
    expect(page.status, `${url}: ${JSON.stringify(page.body)}`).toBe(200);
    found.push(...page.body.items.map((run: { id: string }) => run.id));
    cursor = page.body.nextCursor;
  } while (cursor);
  return found;
}

/** The ids, as the list orders them: newest first (ids of one kind sort by creation time). */
const newestFirst = (...runIds: string[]) => [...runIds].sort().reverse();

async function setOutcome(runId: string, status: "passed" | "failed", flaky = false): Promise<void> {
  await t.db.query(
    `update runs set status = $2, flaky = $3, attempt = 1, started_at = now(), finished_at = now(),
       duration_ms = 100 where id = $1`,
    [runId, status, flaky],
  );
}

beforeAll(async () => {
  t = await createTestApp("runs_filters");
  p = await createProjectViaApi(t.app, "filters");
  other = await createProjectViaApi(t.app, "filters-other");

  ids.recA = (await create("/api/recordings", sampleRecording("a"))).id;
  ids.recB = (await create("/api/recordings", sampleRecording("b"))).id;
  ids.suiteAB = (await create("/api/suites", { name: "ab", recordingIds: [ids.recA, ids.recB] })).id;
  ids.suiteB = (await create("/api/suites", { name: "b", recordingIds: [ids.recB] })).id;

  const ci = { branch: "main", commit: "c0ffee" };
  ids.flakyA = (await create("/api/runs", { recordingId: ids.recA, ci })).id;
  ids.failedA = (await create("/api/runs", { recordingId: ids.recA, ci })).id;
  ids.inline = (await create("/api/runs", { recording: sampleRecording("inline") })).id;

  ids.scheduleA = (await create("/api/schedules", { name: "a nightly", recordingId: ids.recA, cron: "0 3 * * *" })).id;
  const firedA = await create(`/api/schedules/${ids.scheduleA}/trigger`, undefined);
  ids.scheduledA = firedA.runs[0].id;

  const suiteRun = await create(`/api/suites/${ids.suiteAB}/runs`, {});
  const children = await listed(`suiteRunId=${suiteRun.id}`);
  expect(children).toHaveLength(2);
  for (const runId of children) {
    const run = await call("GET", `/api/runs/${runId}`);
    if (run.body.recordingId === ids.recA) ids.suiteChildA = runId;
    else ids.suiteChildB = runId;
  }

  ids.scheduleSuiteB = (
    await create("/api/schedules", { name: "b nightly", suiteId: ids.suiteB, cron: "0 4 * * *" })
  ).id;
  const firedB = await create(`/api/schedules/${ids.scheduleSuiteB}/trigger`, undefined);
  expect(firedB.fire.suiteRunId).toMatch(/^srn_/);
  ids.scheduledSuiteChildB = firedB.runs[0].id;

  await setOutcome(ids.flakyA, "passed", true);
  await setOutcome(ids.failedA, "failed");

  // The other project: runs of its own recording, suite and schedule, one of them flaky.
  theirs.rec = (await create("/api/recordings", sampleRecording("a"), other.apiKey)).id;
  theirs.suite = (await create("/api/suites", { name: "ab", recordingIds: [theirs.rec] }, other.apiKey)).id;
  theirs.schedule = (
    await create("/api/schedules", { name: "x", suiteId: theirs.suite, cron: "0 3 * * *" }, other.apiKey)
  ).id;
  theirs.flaky = (await create("/api/runs", { recordingId: theirs.rec, ci }, other.apiKey)).id;
  await create(`/api/schedules/${theirs.schedule}/trigger`, undefined, other.apiKey);
  await setOutcome(theirs.flaky, "passed", true);
});

afterAll(async () => {
  await t?.close();
});

describe("GET /api/runs filters", () => {
  it("each returns exactly the matching runs, newest first, page by page", async () => {
    const all = newestFirst(...Object.values(ids).filter((id) => id.startsWith("run_")));
    expect(all).toHaveLength(7);
    expect(await listed("")).toEqual(all);

    expect(await listed("flaky=true")).toEqual([ids.flakyA]);
    expect(await listed("flaky=false")).toEqual(all.filter((id) => id !== ids.flakyA));

    expect(await listed(`recordingId=${ids.recA}`)).toEqual(
      newestFirst(ids.flakyA, ids.failedA, ids.scheduledA, ids.suiteChildA),
    );
    expect(await listed(`recordingId=${ids.recB}`)).toEqual(newestFirst(ids.suiteChildB, ids.scheduledSuiteChildB));

    // A recording schedule's run, and a suite schedule's runs (stamped through its suite run).
    expect(await listed(`scheduleId=${ids.scheduleA}`)).toEqual([ids.scheduledA]);
    expect(await listed(`scheduleId=${ids.scheduleSuiteB}`)).toEqual([ids.scheduledSuiteChildB]);

    // Every suite run of the suite, however it was started.
    expect(await listed(`suiteId=${ids.suiteAB}`)).toEqual(newestFirst(ids.suiteChildA, ids.suiteChildB));
    expect(await listed(`suiteId=${ids.suiteB}`)).toEqual([ids.scheduledSuiteChildB]);
  });

  it("combine with AND, with each other and with status and CI", async () => {
    expect(await listed(`recordingId=${ids.recA}&flaky=true`)).toEqual([ids.flakyA]);
    expect(await listed(`recordingId=${ids.recA}&flaky=false&status=queued`)).toEqual(
      newestFirst(ids.scheduledA, ids.suiteChildA),
    );
    expect(await listed(`recordingId=${ids.recA}&status=failed,passed`)).toEqual(newestFirst(ids.flakyA, ids.failedA));
    expect(await listed(`recordingId=${ids.recA}&ciBranch=main&flaky=false`)).toEqual([ids.failedA]);
    expect(await listed(`recordingId=${ids.recB}&suiteId=${ids.suiteAB}`)).toEqual([ids.suiteChildB]);
    expect(await listed(`suiteId=${ids.suiteB}&scheduleId=${ids.scheduleSuiteB}&status=queued`)).toEqual([
      ids.scheduledSuiteChildB,
    ]);
    // Each alone matches something; together nothing.
    expect(await listed(`recordingId=${ids.recA}&scheduleId=${ids.scheduleSuiteB}`)).toEqual([]);
    expect(await listed(`suiteId=${ids.suiteAB}&flaky=true`)).toEqual([]);
    expect(await listed(`scheduleId=${ids.scheduleA}&status=passed`)).toEqual([]);
  });

  it("never show another project's runs", async () => {
    // The other project's flaky run, of a recording, suite and schedule of its own.
    expect(await listed("flaky=true")).not.toContain(theirs.flaky);
    expect(await listed("flaky=true&ciBranch=main")).toEqual([ids.flakyA]);
    for (const query of [`recordingId=${theirs.rec}`, `suiteId=${theirs.suite}`, `scheduleId=${theirs.schedule}`]) {
      expect(await listed(query), query).toEqual([]);
    }
    // From the other side: p's ids match nothing there, and its own filters see only its runs.
    for (const query of [`recordingId=${ids.recA}`, `suiteId=${ids.suiteAB}`, `scheduleId=${ids.scheduleA}`]) {
      expect(await listed(query, other.apiKey), query).toEqual([]);
    }
    expect(await listed("flaky=true", other.apiKey)).toEqual([theirs.flaky]);
    const theirSchedule = await listed(`scheduleId=${theirs.schedule}`, other.apiKey);
    expect(theirSchedule).toHaveLength(1);
    expect(await listed(`suiteId=${theirs.suite}`, other.apiKey)).toEqual(theirSchedule);
  });

  it("refuse a bad value with a 400 naming the parameter", async () => {
    for (const [query, field] of [
      ["flaky=yes", "querystring.flaky"],
      ["flaky=1", "querystring.flaky"],
      ["flaky=", "querystring.flaky"],
      ["recordingId=nope", "querystring.recordingId"],
      // An id of another kind is not a recording's.
      [`recordingId=${ids.flakyA}`, "querystring.recordingId"],
      [`scheduleId=${ids.suiteB}`, "querystring.scheduleId"],
      ["scheduleId=sch_", "querystring.scheduleId"],
      [`suiteId=${ids.scheduleA}`, "querystring.suiteId"],
      [`suiteId=${"x".repeat(100)}`, "querystring.suiteId"],
      [`recordingId=${ids.recA}&flaky=maybe`, "querystring.flaky"],
    ] as const) {
      const response = await call("GET", `/api/runs?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.body.error.code, query).toBe("validation_failed");
      expect(
        response.body.error.details.fields.map((f: { field: string }) => f.field),
        `${query}: ${JSON.stringify(response.body)}`,
      ).toEqual([field]);
      expect(response.body.error.message, query).toContain(field);
    }
  });
});
