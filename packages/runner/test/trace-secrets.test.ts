// biome-ignore-all lint/suspicious/noTemplateCurlyInString: recordings spell variables as ${NAME}
import { readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { MemoryArtifactStore } from "@conveyor/artifacts";
import { type FixtureSite, startFixtureSite } from "@conveyor/testing/fixture-site";
import { findSecrets } from "@conveyor/testing/secret-encodings";
import { strFromU8, strToU8, unzipSync, zipSync } from "fflate";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RunEvidence } from "../src/evidence.ts";
import { BrowserPool } from "../src/pool.ts";
import { REDACTED } from "../src/redact.ts";
import { runRecording, testChromiumPath } from "./helpers.ts";

// A trace of a run with sensitive values, on real Chromium: the stored trace.zip holds none of
// them in any encoding, still opens in Playwright's trace viewer, and the run's outcome is what
// it is without a trace.

/** A sensitive input: every character HTML, JSON and URL encodings treat specially. */
const PASSWORD = "Pw d&<\"'>+/é%x\\9";
/** A sensitive variable's value: typed into a field, sent in a form body and pasted into a URL's query string. */
const TOKEN = "T0k3n <ü>\"/x'9+z";
/** Not sensitive: must still be in the trace, so the search below is known to find text. */
const USERNAME = "alice-visible";

let site: FixtureSite;
let pool: BrowserPool;

beforeAll(async () => {
  site = await startFixtureSite();
  pool = new BrowserPool({ executablePath: testChromiumPath() });
  await pool.warm();
}, 30_000);

afterAll(async () => {
  await pool?.close();
  await site?.close();
});

/** Two failed log-ins: the first with the sensitive input, the second with the variable as password. */
function loginTwice() {
  return {
    name: "trace with secrets",
    variables: [{ name: "TOKEN", sensitive: true }],
    actions: [
      { type: "navigate" as const, url: `${site.url}/login?token=\${TOKEN}` },
      { type: "input" as const, selector: "#username", value: "${TOKEN}" },
      { type: "input" as const, selector: "#username", value: USERNAME },
      { type: "input" as const, selector: "#password", value: PASSWORD, sensitive: true },
      { type: "click" as const, selector: [{ strategy: "testid" as const, value: "login-button" }] },
      { type: "assert" as const, check: "elementVisible" as const, selector: "#error" },
      { type: "input" as const, selector: "#username", value: USERNAME },
      { type: "input" as const, selector: "#password", value: "${TOKEN}" },
      { type: "submit" as const, selector: "#password" },
      { type: "assert" as const, check: "elementText" as const, selector: "#error", expected: "Invalid password" },
    ],
  };
}

describe("a trace of a run with sensitive values", () => {
  it("holds none of them in any encoding, keeps the rest, and opens in the trace viewer", async () => {
    const warnings: string[] = [];
    const traced = await runRecording(pool, loginTwice(), {
      options: { trace: true },
      variables: { TOKEN },
      logger: { warn: (_obj, msg) => warnings.push(msg) },
    });
    const untraced = await runRecording(pool, loginTwice(), { variables: { TOKEN } });

    // The outcome is the run's, trace or not.
    expect(traced.outcome).toBe("passed");
    expect(traced.actions.map((a) => a.status)).toEqual(untraced.actions.map((a) => a.status));
    expect(untraced.outcome).toBe("passed");
    expect(traced.artifacts).toEqual({ trace: "run_test/1/trace.zip" });
    expect(warnings).toEqual([]);

    const stored = traced.store.entries.get("run_test/1/trace.zip");
    expect(stored?.contentType).toBe("application/zip");
    const zip = new Uint8Array(stored?.body ?? Buffer.alloc(0));
    expect(findSecrets(zip, [PASSWORD, TOKEN])).toEqual([]);

    const entries = unzipSync(zip);
    const trace = strFromU8(entries["trace.trace"] ?? new Uint8Array());
    const network = strFromU8(entries["trace.network"] ?? new Uint8Array());
    // What was not sensitive is still there, so the search above would have found text.
    expect(Buffer.from(zip).includes("PK\x03\x04")).toBe(true);
    expect(trace).toContain(`"value":"${USERNAME}"`);
    expect(network).toContain(`{"name":"username","value":"${USERNAME}"}`);
    // The trace viewer reads it: every line of the JSON entries parses.
    const events = trace
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line));
    for (const line of network.split("\n").filter((l) => l !== "")) JSON.parse(line);
    // Values were replaced in place: the fill calls, the DOM snapshots, both form posts.
    const fills = events.filter((e) => e.type === "before" && e.method === "fill").map((e) => e.params.value);
    expect(fills).toEqual([REDACTED, USERNAME, REDACTED, USERNAME, REDACTED]);
    expect(trace).toContain(`"__playwright_value_":"${REDACTED}"`);
    const posts = Object.entries(entries).filter(
      ([name, data]) => name.startsWith("resources/") && strFromU8(data).startsWith("username="),
    );
    expect(posts.map(([, data]) => strFromU8(data))).toEqual([
      `username=${USERNAME}&password=${REDACTED}`,
      `username=${USERNAME}&password=${REDACTED}`,
    ]);
    // Recorded without screenshots: pixels of a field could show a value no scrubbing reaches.
    expect(events.some((e) => e.type === "screencast-frame")).toBe(false);
    expect(Object.keys(entries).some((name) => /\.(jpe?g|png)$/.test(name))).toBe(false);

    await expectTraceViewerOpens(zip, [`Fill "${USERNAME}"`, `Fill "${REDACTED}"`]);
  });

  it("is recorded with screenshots and stored as Playwright wrote it without sensitive values", async () => {
    const result = await runRecording(
      pool,
      {
        name: "no secrets",
        actions: [
          { type: "navigate", url: `${site.url}/login` },
          { type: "input", selector: "#username", value: USERNAME },
        ],
      },
      { options: { trace: true } },
    );
    expect(result.outcome).toBe("passed");
    const entries = unzipSync(
      new Uint8Array(result.store.entries.get("run_test/1/trace.zip")?.body ?? Buffer.alloc(0)),
    );
    expect(Object.keys(entries).some((name) => name.endsWith(".jpeg"))).toBe(true);
  });
});

/**
 * A BrowserContext whose only working part is tracing: `stop` writes `zip` where asked. Stands
 * in for Playwright where a test needs a trace file that Chromium would never write.
 */
function contextWritingTrace(zip: Uint8Array, started: object[]): BrowserContext {
  const tracing = {
    start: async (options: object) => {
      started.push(options);
    },
    stop: async ({ path: file }: { path: string }) => writeFile(file, zip),
  };
  return { tracing } as unknown as BrowserContext;
}

describe("storing a trace with sensitive values", () => {
  it("stores the scrubbed trace, and nothing when it cannot be scrubbed", async () => {
    const started: object[] = [];
    const line = JSON.stringify({ type: "before", params: { value: TOKEN } });
    const scrubbable = zipSync({ "trace.trace": strToU8(`${line}\n`) });
    const cases = [
      { zip: scrubbable, stored: true },
      { zip: strToU8("not a zip"), stored: false },
      // A trace whose events are not UTF-8 cannot be scrubbed reliably.
      { zip: zipSync({ "trace.trace": Uint8Array.from([0xc3, 0x28]) }), stored: false },
    ];
    for (const { zip, stored } of cases) {
      const warnings: { obj: Record<string, unknown>; msg: string }[] = [];
      const logger = { warn: (obj: Record<string, unknown>, msg: string) => warnings.push({ obj, msg }) };
      const evidence = await RunEvidence.create({ video: false, trace: true, sensitiveValues: [TOKEN] });
      const artifacts = new MemoryArtifactStore();
      try {
        await evidence.startTrace(contextWritingTrace(zip, started), logger);
        const result = await evidence.store(null, artifacts, "run_x/1", logger);
        if (stored) {
          expect(result).toEqual({ trace: "run_x/1/trace.zip" });
          const body = artifacts.entries.get("run_x/1/trace.zip")?.body ?? Buffer.alloc(0);
          expect(findSecrets(new Uint8Array(body), [TOKEN])).toEqual([]);
          expect(strFromU8(unzipSync(new Uint8Array(body))["trace.trace"] ?? new Uint8Array())).toContain(REDACTED);
          expect(warnings).toEqual([]);
        } else {
          expect(result).toEqual({});
          expect(artifacts.entries.size).toBe(0);
          expect(warnings.map((w) => w.msg)).toEqual([
            "could not scrub sensitive values from the trace; it is not stored",
          ]);
          expect(JSON.stringify(warnings)).not.toContain(TOKEN);
        }
      } finally {
        await evidence.dispose();
      }
    }
    expect(started).toEqual(cases.map(() => ({ screenshots: false, snapshots: true })));
  });
});

/**
 * Opens `zip` in Playwright's own trace viewer (the static app playwright-core ships, served from
 * here with the zip) in the test's Chromium, and waits for each of `texts` in its action list.
 */
async function expectTraceViewerOpens(zip: Uint8Array, texts: readonly string[]): Promise<void> {
  const root = path.join(
    path.dirname(createRequire(import.meta.url).resolve("playwright-core/package.json")),
    "lib/vite/traceViewer",
  );
  const types: Record<string, string> = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".ttf": "font/ttf",
  };
  const server: Server = createServer((req, res) => {
    const pathname = new URL(req.url ?? "/", "http://viewer.invalid").pathname;
    if (pathname === "/trace.zip") {
      res.writeHead(200, { "content-type": "application/zip" });
      res.end(zip);
      return;
    }
    const file = path.join(root, path.normalize(pathname === "/" ? "index.html" : pathname));
    readFile(file).then(
      (body) => {
        res.writeHead(200, { "content-type": types[path.extname(file)] ?? "application/octet-stream" });
        res.end(body);
      },
      () => {
        res.writeHead(404);
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const context = await pool.newContext();
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const page = await context.newPage();
    await page.goto(`${url}/index.html?trace=${encodeURIComponent(`${url}/trace.zip`)}`);
    for (const text of texts) await page.getByText(text, { exact: true }).first().waitFor({ timeout: 20_000 });
    expect(await page.getByText("Could not load trace").count()).toBe(0);
  } finally {
    await context.close();
    await new Promise((resolve) => server.close(resolve));
  }
}
