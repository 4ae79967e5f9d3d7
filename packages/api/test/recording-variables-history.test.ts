/**
 * What the dashboard's Recordings page needs from the API, through `app.inject` on real Postgres
 * and Redis: `PATCH /api/recordings/:id` sets (or removes) the defaults of the variables a
 * recording declares, sealing sensitive ones, which are never returned; and
 * `GET /api/recordings/:id/stats?runs=N` lists those runs' results, oldest first, for a sparkline.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auth, createProjectViaApi, createTestApp, type TestApp } from "./helpers.ts";

let t: TestApp;
let p: { id: string; apiKey: string };
let other: { id: string; apiKey: string };

const SECRET = "hunter2-very-secret";
const NEW_SECRET = "correct-horse-battery";

function withVariables(name: string) {
  return {
    name,
    variables: [
      { name: "BASE", default: "https://shop.example.test" },
      { name: "TOKEN", sensitive: true, default: SECRET, description: "API token" },
      { name: "USER" },
    ],
    actions: [
      { type: "navigate", url: "${BASE}/login" },
      { type: "input", selector: "#user", value: "${USER}" },
      { type: "input", selector: "#token", value: "${TOKEN}", sensitive: true },
    ],
  };
}

async function call(method: "GET" | "POST" | "PATCH", url: string, payload?: unknown, key = p.apiKey) {
  const response = await t.app.inject({
    method,
    url,
    headers: auth(key),
    ...(payload === undefined ? {} : { payload: payload as object }),
  });
  return { status: response.statusCode, text: response.body, body: response.body ? response.json() : undefined };
}

async function storedVariables(recordingId: string) {
  const [row] = await t.db.query<{ variables: { name: string; default?: string }[] }>(
    "select recording -> 'variables' as variables from recordings where id = $1",
    [recordingId],
  );
  return row?.variables ?? [];
}

beforeAll(async () => {
  t = await createTestApp("recording_variables");
  p = await createProjectViaApi(t.app, "variables");
  other = await createProjectViaApi(t.app, "variables-other");
});

afterAll(async () => {
  await t?.close();
});

describe("PATCH /api/recordings/:id variables", () => {
  it("sets and removes defaults of declared variables; a sensitive one is sealed and never returned", async () => {
    const created = await call("POST", "/api/recordings", withVariables("vars"));
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    const sealedBefore = (await storedVariables(id)).find((v) => v.name === "TOKEN")?.default;
    expect(sealedBefore).toMatch(/^enc:v1:/);

    const patched = await call("PATCH", `/api/recordings/${id}`, {
      name: "vars renamed",
      variables: { USER: "bob", TOKEN: NEW_SECRET },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.body).toMatchObject({ id, name: "vars renamed" });
    expect(patched.text).not.toContain(NEW_SECRET);

    const read = await call("GET", `/api/recordings/${id}`);
    expect(read.text).not.toContain(NEW_SECRET);
    expect(read.text).not.toContain(SECRET);
    expect(read.body.recording.variables).toEqual([
      { name: "BASE", default: "https://shop.example.test" },
      { name: "TOKEN", sensitive: true, default: "[redacted]", description: "API token" },
      { name: "USER", default: "bob" },
    ]);
    // Stored sealed: the new value, not the old one, and never in the clear.
    const stored = await storedVariables(id);
    const token = stored.find((v) => v.name === "TOKEN")?.default ?? "";
    expect(token).toMatch(/^enc:v1:/);
    expect(JSON.stringify(stored)).not.toContain(NEW_SECRET);
    expect(token).not.toBe(sealedBefore);

    // null removes a default; variables not named keep theirs (the sealed token too).
    const removed = await call("PATCH", `/api/recordings/${id}`, { variables: { BASE: null } });
    expect(removed.status, removed.text).toBe(200);
    const after = await storedVariables(id);
    expect(after.map((v) => [v.name, v.default])).toEqual([
      ["BASE", undefined],
      ["TOKEN", token],
      ["USER", "bob"],
    ]);

    // A run made now takes the recording as it is now, defaults included (sealed stays sealed).
    const run = await call("POST", "/api/runs", { recordingId: id, variables: { BASE: "https://x.example.test" } });
    expect(run.status, run.text).toBe(202);
    const [snapshot] = await t.db.query<{ variables: { name: string; default?: string }[] }>(
      "select recording -> 'variables' as variables from runs where id = $1",
      [run.body.id],
    );
    expect(snapshot?.variables).toEqual(after);
  });

  it("refuses an undeclared or malformed variable with a 400 naming it, and changes nothing", async () => {
    const id = (await call("POST", "/api/recordings", withVariables("refusals"))).body.id as string;
    const before = await storedVariables(id);
    for (const [variables, field] of [
      [{ NOPE: "x" }, "body.variables.NOPE"],
      [{ USER: "ok", MISSING: null }, "body.variables.MISSING"],
      [{ USER: 5 }, "body.variables.USER"],
      [{ USER: ["x"] }, "body.variables.USER"],
    ] as const) {
      const response = await call("PATCH", `/api/recordings/${id}`, { variables });
      expect(response.status, JSON.stringify(variables)).toBe(400);
      expect(response.body.error.code).toBe("validation_failed");
      expect(
        response.body.error.details.fields.map((f: { field: string }) => f.field),
        response.text,
      ).toContain(field);
    }
    const badName = await call("PATCH", `/api/recordings/${id}`, { variables: { "not-a-name": "x" } });
    expect(badName.status).toBe(400);
    expect(badName.body.error.message).toContain("body.variables");
    expect(await storedVariables(id)).toEqual(before);
  });

  it("refuses a sensitive default without SECRETS_KEY, naming the variable", async () => {
    const keyless = await createTestApp("recording_variables_nokey", { secretsKey: undefined });
    try {
      const project = await createProjectViaApi(keyless.app, "nokey");
      const recording = {
        ...withVariables("no key"),
        variables: [{ name: "TOKEN", sensitive: true }, { name: "USER" }],
      };
      const created = await keyless.app.inject({
        method: "POST",
        url: "/api/recordings",
        headers: auth(project.apiKey),
        payload: recording,
      });
      expect(created.statusCode, created.body).toBe(201);
      const url = `/api/recordings/${created.json().id}`;
      const refused = await keyless.app.inject({
        method: "PATCH",
        url,
        headers: auth(project.apiKey),
        payload: { variables: { USER: "ann", TOKEN: SECRET } },
      });
      expect(refused.statusCode, refused.body).toBe(400);
      expect(refused.json().error.details.fields[0].field).toBe("body.variables.TOKEN");
      expect(refused.body).not.toContain(SECRET);
      // A variable that is not sensitive needs no key.
      const plain = await keyless.app.inject({
        method: "PATCH",
        url,
        headers: auth(project.apiKey),
        payload: { variables: { USER: "ann" } },
      });
      expect(plain.statusCode, plain.body).toBe(200);
    } finally {
      await keyless.close();
    }
  });

  it("answers 404 for another project's recording and leaves it unchanged", async () => {
    const id = (await call("POST", "/api/recordings", withVariables("theirs"), other.apiKey)).body.id as string;
    const before = await storedVariables(id);
    const response = await call("PATCH", `/api/recordings/${id}`, { variables: { USER: "mallory" } });
    expect(response.status).toBe(404);
    expect(await storedVariables(id)).toEqual(before);
  });
});

describe("GET /api/recordings/:id/stats?runs=N results", () => {
  it("lists the last N finished runs' results, oldest first; null for a days window", async () => {
    const id = (await call("POST", "/api/recordings", withVariables("history"))).body.id as string;
    const otherRecording = (await call("POST", "/api/recordings", withVariables("elsewhere"))).body.id as string;
    const submit = async (recordingId: string) =>
      (await call("POST", "/api/runs", { recordingId, variables: { USER: "u" } })).body.id as string;
    const outcomes = [
      ["failed", false, 4],
      ["passed", true, 3],
      ["errored", false, 2],
      ["passed", false, 1],
    ] as const;
    const runIds: string[] = [];
    for (const [status, flaky, minutesAgo] of outcomes) {
      const runId = await submit(id);
      runIds.push(runId);
      await t.db.query(
        `update runs set status = $2, flaky = $3, attempt = 1, started_at = now() - make_interval(mins => $4),
           finished_at = now() - make_interval(mins => $4), duration_ms = 100 where id = $1`,
        [runId, status, flaky, minutesAgo],
      );
    }
    // Neither a run still queued nor another recording's run is in its history.
    await submit(id);
    const elsewhere = await submit(otherRecording);
    await t.db.query("update runs set status = 'failed', finished_at = now() where id = $1", [elsewhere]);

    const stats = await call("GET", `/api/recordings/${id}/stats?runs=30`);
    expect(stats.status, stats.text).toBe(200);
    expect(stats.body).toMatchObject({ source: "runs", runs: 4, passed: 2, failed: 1, errored: 1, flaky: 1 });
    expect(
      stats.body.results.map((r: { runId: string; status: string; flaky: boolean }) => [r.runId, r.status, r.flaky]),
    ).toEqual([
      [runIds[0], "failed", false],
      [runIds[1], "passed", true],
      [runIds[2], "errored", false],
      [runIds[3], "passed", false],
    ]);
    const finishedAt = stats.body.results.map((r: { finishedAt: string }) => Date.parse(r.finishedAt));
    expect(finishedAt).toEqual([...finishedAt].sort((a, b) => a - b));

    const lastTwo = await call("GET", `/api/recordings/${id}/stats?runs=2`);
    expect(lastTwo.body.results.map((r: { runId: string }) => r.runId)).toEqual(runIds.slice(2));
    expect((await call("GET", `/api/recordings/${id}/stats?days=7`)).body.results).toBeNull();
    // Another project sees neither the stats nor the history.
    expect((await call("GET", `/api/recordings/${id}/stats?runs=30`, undefined, other.apiKey)).status).toBe(404);
  });
});
