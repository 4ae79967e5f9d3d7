/**
 * The tenant boundary end to end, tried as a hostile tenant would: an API and a worker as
 * separate processes under the default egress policy, with only the fixture site's port allowed.
 * A canary server on another loopback port counts every connection made to it: nothing a
 * recording does — a navigation, a redirect, an <img>, a fetch, an iframe, a WebSocket, a name
 * that resolves to loopback — may reach it, and no local file (another project's artifact
 * included) may show up in a run, its events, its screenshot or the logs.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type Canary, startCanary } from "@conveyor/testing/egress";
import { chromiumPidsOf } from "@conveyor/testing/faults";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { BINS, freePort, type Proc, startProcess } from "@conveyor/testing/processes";
import { loginRecording } from "@conveyor/testing/recordings";
import { ADMIN_TOKEN, createStack, SECRETS_KEY, type Stack } from "@conveyor/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const TERMINAL = ["passed", "failed", "errored", "cancelled"];
const PASSWD_LINE = /root:x:0:0/;

let stack: Stack;
let site: FixtureSite;
/** A second site only a project's own allowlist may open (like a team's staging network). */
let staging: FixtureSite;
let canary: Canary;
let worker: Proc;
let keyA: string;
let keyB: string;
let projectA: string;

const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

beforeAll(async () => {
  [site, staging, canary] = await Promise.all([startFixtureSite(), startFixtureSite(), startCanary()]);
  stack = await createStack("egress");
  const sitePort = new URL(site.url).port;
  const stagingPort = new URL(staging.url).port;
  const policy = {
    EGRESS_ALLOW: `127.0.0.1:${sitePort}`,
    EGRESS_PROJECT_MAX: `127.0.0.1:${stagingPort}`,
  };
  await stack.startApi(policy);
  worker = await stack.startWorker("w-egress", { ...policy, WORKER_CONCURRENCY: "2" });
  keyB = await stack.createProject("tenant-b");
  const created = await stack.request("POST", "/api/projects", { name: "tenant-a" }, admin);
  keyA = created.body.apiKey;
  projectA = created.body.project.id;
});

afterAll(async () => {
  await stack?.stop();
  await Promise.all([site?.close(), staging?.close(), canary?.close()]);
});

function as(key: string) {
  stack.apiKey = key;
  return stack;
}

async function runAndWait(key: string, body: Record<string, unknown>): Promise<any> {
  const submitted = await as(key).request("POST", "/api/runs", body);
  expect(submitted.status, JSON.stringify(submitted.body)).toBe(202);
  return as(key).waitForRun(submitted.body.id, TERMINAL, 90_000);
}

/** A run of one navigation to `${TARGET}`: not literal, so the API accepts it and the worker decides. */
function via(target: string, extra: Record<string, unknown>[] = []) {
  return {
    recording: {
      name: "hostile",
      actions: [{ type: "navigate", url: `${site.url}/login` }, { type: "navigate", url: "${TARGET}" }, ...extra],
    },
    variables: { TARGET: target },
  };
}

async function rowCounts(): Promise<Record<string, number>> {
  const [row] = await stack.db.query<Record<string, number>>(
    `select (select count(*) from runs)::int as runs, (select count(*) from recordings)::int as recordings,
            (select count(*) from run_events)::int as events`,
  );
  return row ?? {};
}

describe("under the default policy, with only the fixture site's port allowed", () => {
  it("replays the fixture site's flow", async () => {
    const run = await runAndWait(keyA, { recording: loginRecording(site.url) });
    expect(run.status).toBe("passed");
  });

  it("answers 422 naming the action for a URL refused by scheme or address literal, and stores nothing", async () => {
    const before = await rowCounts();
    const refused = [
      "file:///etc/passwd",
      "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
      `http://127.0.0.1:${canary.port}/metrics`,
      `http://0x7f.1:${canary.port}/`,
      "chrome://version",
      `view-source:${stack.apiUrl}/api/health/ready`,
    ];
    for (const url of refused) {
      const recording = {
        name: "refused",
        actions: [
          { type: "assert", check: "urlContains", expected: "x" },
          { type: "navigate", url },
        ],
      };
      for (const [path, body, field] of [
        ["/api/runs", { recording }, "body.recording.actions[1].url"],
        ["/api/recordings", recording, "body.actions[1].url"],
      ] as const) {
        const response = await as(keyA).request("POST", path, body);
        expect(response.status, `${path} ${url}`).toBe(422);
        expect(response.body.error.code).toBe("blocked_by_policy");
        expect(response.body.error.message).toContain(`${field}: action 1`);
        expect(response.body.error.details.fields[0]).toMatchObject({ field, action: 1 });
      }
    }
    expect(await rowCounts()).toEqual(before);
    expect(canary.hits).toBe(0);
  });

  it("fails navigations the proxy refuses with blocked_by_policy: no retry, no dead letter, nothing reached", async () => {
    const targets = [
      `${site.url}/redirect?to=${encodeURIComponent(`${canary.url}/`)}`,
      `http://localhost:${canary.port}/`,
      `https://127.0.0.1:${canary.port}/`,
      `${stack.apiUrl}/metrics`,
    ];
    const runs = await Promise.all(targets.map((target) => runAndWait(keyA, via(target))));
    for (const run of runs) {
      expect(run).toMatchObject({ status: "failed", attempt: 1, deadLetteredAt: null });
      expect(run.error).toMatchObject({ kind: "test_failure", code: "blocked_by_policy", actionIndex: 1 });
      expect(run.actions[1].error.code).toBe("blocked_by_policy");
      expect(run.actions[1].screenshotUrl).toMatch(/failure\.png$/);
      const events = await as(keyA).request("GET", `/api/runs/${run.id}/events`);
      expect(events.body.items.map((event: { type: string }) => event.type)).toEqual(["queued", "started", "finished"]);
    }
    // The API itself is always denied to recordings (EGRESS_DENY), whatever EGRESS_ALLOW says.
    expect(runs[3].error.message).toContain("always denied");
    expect(canary.hits).toBe(0);
  });

  it("answers a denied port the same whether anything listens there or not", async () => {
    const closedPort = await freePort();
    const pairs = [
      [`http://127.0.0.1:${canary.port}/`, `http://127.0.0.1:${closedPort}/`],
      [
        `${site.url}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${canary.port}/`)}`,
        `${site.url}/redirect?to=${encodeURIComponent(`http://127.0.0.1:${closedPort}/`)}`,
      ],
    ];
    for (const [open, closed] of pairs) {
      const [a, b] = await Promise.all([runAndWait(keyA, via(open ?? "")), runAndWait(keyA, via(closed ?? ""))]);
      for (const run of [a, b])
        expect(run).toMatchObject({ status: "failed", attempt: 1, error: { code: "blocked_by_policy" } });
      const shape = (run: any, port: number) => run.error.message.replaceAll(String(port), "PORT");
      expect(shape(a, canary.port)).toBe(shape(b, closedPort));
    }
    expect(canary.hits).toBe(0);
  });

  it("records blocked subresources (img, fetch, iframe, WebSocket) without failing the run", async () => {
    const run = await runAndWait(keyA, {
      recording: {
        name: "embed",
        actions: [
          { type: "navigate", url: `${site.url}/embed?target=${encodeURIComponent(canary.url)}` },
          { type: "assert", check: "containsText", selector: "#fetch-result", expected: "fetch: failed" },
          { type: "assert", check: "containsText", selector: "#ws-result", expected: "ws: error" },
        ],
      },
    });
    expect(run.status).toBe("passed");
    const blocked = run.actions.flatMap((action: any) => action.blockedRequests?.first ?? []);
    const total = run.actions.reduce((sum: number, action: any) => sum + (action.blockedRequests?.count ?? 0), 0);
    expect(total).toBeGreaterThanOrEqual(4);
    expect(blocked.map((item: { url: string }) => item.url)).toEqual(
      expect.arrayContaining([`${canary.url}/img.png`, `${canary.url}/fetch`, `${canary.url}/frame`]),
    );
    expect(canary.hits).toBe(0);
  });

  it("never opens a local file: not /etc/passwd, not another project's artifact", async () => {
    // Project B's failing run leaves a screenshot under ARTIFACT_DIR.
    const victim = await runAndWait(keyB, { recording: loginRecording(site.url, "wrong") });
    expect(victim.status).toBe("failed");
    const victimFiles = readdirSync(join(stack.artifactDir, victim.id), { recursive: true }).map(String);
    const screenshot = victimFiles.find((file) => file.endsWith("failure.png"));
    expect(screenshot).toBeDefined();
    const victimPath = join(stack.artifactDir, victim.id, String(screenshot));

    for (const target of ["file:///etc/passwd", `file://${victimPath}`, `file://${stack.artifactDir}/`]) {
      const run = await runAndWait(keyA, via(target, [{ type: "assert", check: "containsText", expected: "root:" }]));
      expect(run.status).toBe("failed");
      expect(run.error.code).toBe("blocked_by_policy");
      expect(run.error.message).toContain("scheme file:");
      expect(run.actions[1].pageUrl).not.toMatch(/^file:/);
      const events = await as(keyA).request("GET", `/api/runs/${run.id}/events`);
      expect(JSON.stringify([run, events.body])).not.toMatch(PASSWD_LINE);
      // Its own failure screenshot is of its own page, not the other project's image.
      const own = await fetch(`${stack.apiUrl}${run.actions[1].screenshotUrl}`, {
        headers: { authorization: `Bearer ${keyA}` },
      });
      expect(own.status).toBe(200);
      expect(Buffer.from(await own.arrayBuffer()).equals(readFileSync(victimPath))).toBe(false);
    }
    expect(worker.output()).not.toMatch(PASSWD_LINE);
    expect(stack.api?.output() ?? "").not.toMatch(PASSWD_LINE);
  });
});

describe("project allowlists", () => {
  it("can only be set by the operator, within EGRESS_PROJECT_MAX", async () => {
    const stagingPort = new URL(staging.url).port;
    const beyond = await stack.request(
      "PATCH",
      `/api/projects/${projectA}`,
      { egress: { allow: [`127.0.0.1:${canary.port}`] } },
      admin,
    );
    expect(beyond.status).toBe(400);
    expect(beyond.body.error.message).toMatch(/^body\.egress\.allow\[0\]: .*outside what EGRESS_PROJECT_MAX allows/);
    const asTenant = await as(keyA).request("PATCH", `/api/projects/${projectA}`, {
      egress: { allow: [`127.0.0.1:${stagingPort}`] },
    });
    expect(asTenant.status).toBe(401);
    const set = await stack.request(
      "PATCH",
      `/api/projects/${projectA}`,
      { egress: { allow: [`127.0.0.1:${stagingPort}`] } },
      admin,
    );
    expect(set.status).toBe(200);
    expect(set.body.egress.allow).toEqual([`127.0.0.1:${stagingPort}`]);
    expect((await stack.request("GET", `/api/projects/${projectA}`, undefined, admin)).body.egress.allow).toEqual([
      `127.0.0.1:${stagingPort}`,
    ]);
  });

  it("open the staging site to that project's runs, and to no other project's", async () => {
    const recording = {
      name: "staging",
      actions: [
        { type: "navigate", url: `${staging.url}/welcome?user=staging` },
        { type: "assert", check: "elementText", selector: "#greeting", expected: "Welcome, staging" },
      ],
    };
    const own = await runAndWait(keyA, { recording });
    expect(own.status).toBe("passed");
    const other = await as(keyB).request("POST", "/api/runs", { recording });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe("blocked_by_policy");
    const otherAtRunTime = await runAndWait(keyB, via(`${staging.url}/welcome`));
    expect(otherAtRunTime.error.code).toBe("blocked_by_policy");
  });
});

describe("the worker's browser", () => {
  it("has none of the worker's secrets in its environment", async () => {
    // A run in flight keeps the renderers alive while their environment is read.
    const submitted = await as(keyA).request("POST", "/api/runs", {
      recording: {
        name: "slow",
        actions: [
          { type: "navigate", url: `${site.url}/slow?ms=4000` },
          { type: "assert", check: "elementVisible", selector: "#done", timeoutMs: 20000 },
        ],
      },
    });
    expect(submitted.status).toBe(202);
    await as(keyA).waitForRun(submitted.body.id, ["running", ...TERMINAL]);
    const pids = chromiumPidsOf(worker.child.pid ?? 0);
    expect(pids.length).toBeGreaterThan(1);
    const secrets = [stack.env.DATABASE_URL, SECRETS_KEY, ADMIN_TOKEN, stack.env.REDIS_URL].filter(Boolean) as string[];
    let read = 0;
    for (const pid of pids) {
      let environ: string;
      try {
        environ = readFileSync(`/proc/${pid}/environ`, "utf8");
      } catch {
        continue; // exited meanwhile
      }
      read += 1;
      for (const name of ["DATABASE_URL", "SECRETS_KEY", "ADMIN_TOKEN", "REDIS_URL", "QUEUE_PREFIX"]) {
        expect(
          environ.split("\0").some((line) => line.startsWith(`${name}=`)),
          `${name} in ${pid}`,
        ).toBe(false);
      }
      for (const secret of secrets) expect(environ.includes(secret)).toBe(false);
    }
    expect(read).toBeGreaterThan(1);
    await as(keyA).waitForRun(submitted.body.id, TERMINAL, 60_000);
  });

  it("says at start what it enforces, and why Chromium runs unsandboxed here", () => {
    const output = worker.output();
    expect(output).toContain("egress policy: every request of the browser goes through the worker's proxy");
    if (process.getuid?.() === 0) expect(output).toMatch(/Chromium runs without its sandbox: the worker runs as root/);
  });

  it("warns at start when EGRESS_POLICY=off", async () => {
    const open = await stack.startWorker("w-egress-off", { EGRESS_POLICY: "off" });
    expect(open.output()).toMatch(/"level":40.*EGRESS_POLICY=off: recordings may reach any address/);
    open.kill("SIGTERM");
    expect(await open.exited).toEqual({ code: 0, signal: null });
  });

  it.runIf(process.getuid?.() === 0)(
    "refuses to start with CHROMIUM_SANDBOX=required where the sandbox cannot run",
    async () => {
      const refused = startProcess("w-egress-required", BINS.worker, { ...stack.env, CHROMIUM_SANDBOX: "required" });
      expect((await refused.exited).code).toBe(1);
      expect(refused.output()).toMatch(
        /Conveyor worker failed to start: CHROMIUM_SANDBOX=required, but the worker runs as root/,
      );
    },
  );
});
