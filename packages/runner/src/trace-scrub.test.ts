import { findSecrets } from "@conveyor/testing/secret-encodings";
import { strFromU8, strToU8, unzipSync, zipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { REDACTED } from "./redact.ts";
import { createSecretScrubber, scrubTraceZip } from "./trace-scrub.ts";

// Hand-made traces: each sensitive value written the ways a browser, Playwright's HAR recorder
// or a page can write it, including several encodings mixed within one occurrence.

/** Every special character a value can be escaped for: space, &, <, ", non-ASCII, ', >, /, +, \. */
const PASSWORD = "Pa$$ w&<\"ü'>/+\\9";
/** Long enough for base64 fragments at every byte alignment. */
const TOKEN = "tok-3n_Zq9xY";

const jsonEscaped = (text: string) => JSON.stringify(text).slice(1, -1);

function scrubberFor(secrets: string[]) {
  const scrubber = createSecretScrubber(secrets);
  if (scrubber === null) throw new Error("no scrubber");
  return scrubber;
}

describe("createSecretScrubber", () => {
  it("is null without a non-empty value", () => {
    expect(createSecretScrubber([])).toBeNull();
    expect(createSecretScrubber([""])).toBeNull();
  });

  it("finds a value in every encoding, and in encodings mixed within one occurrence", () => {
    const { scrub } = scrubberFor([PASSWORD]);
    const html = (text: string) =>
      text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
    const forms = [
      PASSWORD,
      jsonEscaped(PASSWORD),
      // Escaped twice and three times: JSON in a JSON string, in a JSON string.
      jsonEscaped(jsonEscaped(PASSWORD)),
      jsonEscaped(jsonEscaped(jsonEscaped(PASSWORD))),
      // Every character as a \u escape.
      [...PASSWORD].map((char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`).join(""),
      encodeURIComponent(PASSWORD),
      encodeURIComponent(PASSWORD).replace(/%[0-9A-F]{2}/g, (byte) => byte.toLowerCase()),
      encodeURIComponent(encodeURIComponent(PASSWORD)),
      encodeURI(PASSWORD),
      new URLSearchParams({ p: PASSWORD }).toString().slice(2),
      html(PASSWORD).replace(/'/g, "&#39;"),
      html(PASSWORD).replace(/'/g, "&#x27;"),
      PASSWORD.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`),
      // Mixed: part JSON-escaped, part URL-encoded, part HTML-escaped.
      'Pa$$\\u0020w%26&lt;\\"&#xFC;%27>\\/%2B\\\\9',
    ];
    for (const form of forms) expect(scrub(`before ${form} after`), form).toBe(`before ${REDACTED} after`);
  });

  it("finds base64 of a value at every byte offset inside longer base64 text, in both alphabets", () => {
    const { scrub, test } = scrubberFor([TOKEN]);
    for (const prefix of ["", "a", "ab", "user:", "Basic "]) {
      for (const encoding of ["base64", "base64url"] as const) {
        const encoded = Buffer.from(`${prefix}${TOKEN}!trailing`).toString(encoding);
        expect(test(encoded), `${encoding} after ${JSON.stringify(prefix)}`).toBe(true);
        expect(scrub(encoded)).toContain(REDACTED);
      }
    }
  });

  it("finds a value a URL parser took apart or decoded: pieces, a raw + read as a space, %XX decoded", () => {
    const { scrub } = scrubberFor(["abc&def#ghi", "plus+sign", "per%41cent"]);
    // A HAR query string of `?t=abc&def#ghi` lists `t: abc` and `def`; the fragment is `ghi`.
    expect(scrub('[{"name":"t","value":"abc"},{"name":"def","value":""}] #ghi')).toBe(
      `[{"name":"t","value":"${REDACTED}"},{"name":"${REDACTED}","value":""}] #${REDACTED}`,
    );
    expect(scrub("q=plus sign")).toBe(`q=${REDACTED}`);
    expect(scrub("q=perAcent")).toBe(`q=${REDACTED}`);
  });

  it("stays fast on text built to make a search backtrack: long runs of backslashes, quotes, escapes", () => {
    const { scrub } = scrubberFor(['a\\\\\\\\b"""c', PASSWORD]);
    const text = `${"\\".repeat(200_000)}${'\\"'.repeat(100_000)}${"%25".repeat(100_000)}`;
    const started = performance.now();
    expect(scrub(text)).toBe(text);
    // A linear scan of these 700k characters takes ~0.1 s; a search that backtracks (quadratic or
    // worse here) takes minutes. The bound tells the two apart with room for a loaded machine.
    expect(performance.now() - started).toBeLessThan(15_000);
  });

  it("replaces a value containing another whole, and leaves other text alone", () => {
    const { scrub } = scrubberFor(["secret", "secret-longer"]);
    expect(scrub("a secret-longer b")).toBe(`a ${REDACTED} b`);
    expect(scrub("username=alice&remember=1 Secr3t")).toBe("username=alice&remember=1 Secr3t");
  });
});

/** A PNG signature: the start of an image, which cannot hold typed text. */
const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);

function handMadeTrace(): Record<string, Uint8Array> {
  const contextLine = '{ "version": 8, "type": "context-options", "options": {"viewport": null} }';
  const traceLines = [
    contextLine,
    // The value split across JSON escapes of different kinds.
    String.raw`{"type":"before","callId":"c1","method":"fill","params":{"selector":"#password","value":"Pa$$\u0020w\u0026<\"\u00FC'>\/+\\9"}}`,
    JSON.stringify({ type: "before", callId: "c0", method: "fill", params: { selector: "#username", value: "alice" } }),
    JSON.stringify({ type: "log", callId: "c1", message: `  fill("${PASSWORD}")` }),
    JSON.stringify({
      type: "frame-snapshot",
      snapshot: {
        html: ["INPUT", { __playwright_value_: PASSWORD, id: "password" }],
        frameUrl: `http://h/?t=${TOKEN}`,
      },
    }),
    // A request body that is JSON itself, stored inside a JSON string: escaped twice.
    JSON.stringify({ type: "event", params: { body: JSON.stringify({ password: PASSWORD, token: TOKEN }) } }),
    // Not JSON, and holding the value: dropped.
    `{"type":"log","message":"${PASSWORD}`,
    "",
  ];
  const network = JSON.stringify({
    type: "resource-snapshot",
    snapshot: {
      request: {
        url: new URL(`http://h/login?token=${TOKEN}&x=1`).href,
        queryString: [{ name: "token", value: TOKEN }],
        headers: [{ name: "Authorization", value: `Basic ${Buffer.from(`alice:${PASSWORD}`).toString("base64")}` }],
        postData: {
          text: new URLSearchParams({ username: "alice", password: PASSWORD }).toString(),
          params: [{ name: "password", value: PASSWORD }],
        },
      },
    },
  });
  const escaped = PASSWORD.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  const page = [
    `<input value="${escaped.replace(/'/g, "&#39;")}">`,
    `<p title='${escaped.replace(/'/g, "&#x27;")}'>${PASSWORD.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)}</p>`,
    `<a href="/x?p=${encodeURIComponent(PASSWORD)}&t=${encodeURIComponent(TOKEN)}">alice</a>`,
  ].join("\n");
  return {
    "trace.trace": strToU8(traceLines.join("\n")),
    "trace.network": strToU8(`${network}\n`),
    "trace.stacks": strToU8(JSON.stringify({ files: ["/src/a.ts"], stacks: [] })),
    "resources/page.html": strToU8(page),
    "resources/body.dat": strToU8(new URLSearchParams({ username: "alice", password: PASSWORD }).toString()),
    "resources/data.json": strToU8(JSON.stringify({ nested: JSON.stringify({ password: PASSWORD }) })),
    "resources/b64.txt": strToU8(["", "a", "ab"].map((p) => Buffer.from(`${p}${TOKEN}`).toString("base64")).join("\n")),
    "resources/style.css": strToU8("body { color: red; } /* alice */"),
    "resources/pixel.png": PNG,
    // An image whose bytes carry the value (a text chunk): dropped.
    "resources/leaky.png": Uint8Array.from([...PNG, ...Buffer.from(PASSWORD)]),
    // Neither UTF-8 nor a known binary format: dropped.
    "resources/blob.bin": Uint8Array.from([0xc3, 0x28, 0xa0, 0xa1, 0x00, 0x01]),
  };
}

describe("scrubTraceZip", () => {
  it("removes every form of every value from every entry, and keeps a readable trace", () => {
    const original = handMadeTrace();
    const zip = zipSync(original);
    expect(findSecrets(zip, [PASSWORD, TOKEN]).length).toBeGreaterThan(0);

    const scrubbed = scrubTraceZip(zip, [PASSWORD, TOKEN, ""]);

    expect(findSecrets(scrubbed.zip, [PASSWORD, TOKEN])).toEqual([]);
    expect(scrubbed.droppedEntries).toBe(2);
    expect(scrubbed.droppedLines).toBe(1);
    const entries = unzipSync(scrubbed.zip);
    expect(Object.keys(entries).sort()).toEqual(
      Object.keys(original)
        .filter((name) => name !== "resources/leaky.png" && name !== "resources/blob.bin")
        .sort(),
    );
    // No other form either, in any text entry.
    const scrubber = scrubberFor([PASSWORD, TOKEN]);
    for (const [name, data] of Object.entries(entries)) {
      if (!name.endsWith(".png")) expect(scrubber.test(strFromU8(data)), name).toBe(false);
    }

    // Every line of the JSON entries still parses; the values became the marker in place.
    const lines = strFromU8(entries["trace.trace"] ?? new Uint8Array())
      .split("\n")
      .filter((line) => line !== "");
    const events = lines.map((line) => JSON.parse(line));
    expect(events.map((event) => event.type)).toEqual([
      "context-options",
      "before",
      "before",
      "log",
      "frame-snapshot",
      "event",
    ]);
    expect(events[1].params.value).toBe(REDACTED);
    expect(events[2].params.value).toBe("alice");
    expect(events[3].message).toBe(`  fill("${REDACTED}")`);
    expect(events[4].snapshot.html[1].__playwright_value_).toBe(REDACTED);
    // A line without a value is kept as written, not re-serialised.
    expect(lines[0]).toBe('{ "version": 8, "type": "context-options", "options": {"viewport": null} }');
    const request = JSON.parse(strFromU8(entries["trace.network"] ?? new Uint8Array())).snapshot.request;
    expect(request.queryString).toEqual([{ name: "token", value: REDACTED }]);
    expect(request.postData.params).toEqual([{ name: "password", value: REDACTED }]);
    expect(request.postData.text).toBe(`username=alice&password=${REDACTED}`);
    expect(request.headers[0].value).toMatch(/^Basic .*\[redacted\]/);

    // Entries without a value, and images, are byte for byte what they were.
    expect(entries["resources/style.css"]).toEqual(original["resources/style.css"]);
    expect(entries["resources/pixel.png"]).toEqual(original["resources/pixel.png"]);
    expect(entries["trace.stacks"]).toEqual(original["trace.stacks"]);
    // What was not sensitive is still there.
    expect(strFromU8(entries["resources/body.dat"] ?? new Uint8Array())).toBe(`username=alice&password=${REDACTED}`);
    expect(strFromU8(entries["resources/page.html"] ?? new Uint8Array())).toContain(">alice</a>");
    for (const line of strFromU8(entries["resources/b64.txt"] ?? new Uint8Array()).split("\n")) {
      expect(line).toContain(REDACTED);
    }
  });

  it("returns the zip untouched without values, and throws on what it cannot read", () => {
    const zip = zipSync(handMadeTrace());
    expect(scrubTraceZip(zip, []).zip).toBe(zip);
    expect(() => scrubTraceZip(strToU8("not a zip"), [PASSWORD])).toThrow();
    const unreadable = zipSync({ "trace.trace": Uint8Array.from([0xc3, 0x28]) });
    expect(() => scrubTraceZip(unreadable, [PASSWORD])).toThrow(/not UTF-8/);
  });
});
