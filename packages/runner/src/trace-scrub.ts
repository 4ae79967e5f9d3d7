import { unzipSync, type Zippable, zipSync } from "fflate";
import { REDACTED } from "./redact.ts";

/**
 * Takes a run's sensitive values out of a Playwright trace zip before it is stored.
 *
 * A trace holds what the browser saw: the `fill` call's parameters and log lines (`.trace`),
 * DOM snapshots with each input's value (`.trace`), requests with their URLs, query strings and
 * form bodies (`.network`, `resources/`). A value appears there raw, JSON-escaped (once or nested
 * again), URL- or form-encoded, HTML-escaped, or base64-encoded (an `Authorization: Basic`
 * header), often mixed within one value (a form body inside a JSON string). So each value is
 * matched character by character, every character in any of its encodings, and every match is
 * replaced by `[redacted]`, the marker results use.
 *
 * JSON entries (`.trace`, `.network`, `.stacks`) are parsed and every string in them is scrubbed,
 * so what is rewritten stays valid JSON the trace viewer reads; other entries that are UTF-8 text
 * are scrubbed as text. Images, fonts and media cannot hold what was typed and are kept (unless
 * their bytes contain a value). Anything else that cannot be read reliably is left out: a trace
 * missing a resource is better than a trace keeping a secret.
 *
 * Not recognised: a value split across separate strings (two DOM text nodes), and pixels (a
 * screenshot of a field showing its text: traces of runs with sensitive values are recorded
 * without screenshots, see evidence.ts).
 */

/** Pieces of a value shorter than this are not scrubbed on their own (see {@link secretForms}). */
const MIN_PIECE_LENGTH = 3;
/** Base64 fragments shorter than this would match ordinary text too; values under 5 bytes have none. */
const MIN_BASE64_FRAGMENT_LENGTH = 6;
/** Where a URL parser splits a value pasted into a query string raw: `?t=a&b` gives `t=a` and `b`. */
const URL_DELIMITERS = /[&=#?]/;
/** Entries the trace viewer parses as JSON (one document per line). */
const JSON_ENTRY = /\.(trace|network|stacks)$/;

/** Text scrubbing for a set of sensitive values: `test` says whether a text holds one, `scrub` replaces them. */
export interface SecretScrubber {
  test(text: string): boolean;
  scrub(text: string): string;
}

/**
 * A scrubber for `secrets` (empty strings ignored), or null when there is nothing to scrub. Each
 * value is matched raw, JSON/JS-escaped up to three deep (`\"`, `\\\"`, `\u0041`, `\x41`), URL- or
 * form-encoded (`%XX`, `%25XX`, `+` for a space), HTML-escaped (`&amp;`, `&#39;`, `&#x27;`),
 * any mix of those, and base64-encoded at any byte alignment (standard and URL-safe alphabets);
 * also URL-decoded, and the pieces of it a query-string parser would split off.
 */
export function createSecretScrubber(secrets: Iterable<string>): SecretScrubber | null {
  const patterns = new Map<string, number>();
  for (const secret of new Set(secrets)) {
    if (secret === "") continue;
    for (const form of secretForms(secret)) patterns.set(formPattern(form), form.length);
    for (const fragment of base64Fragments(secret)) patterns.set(escapeRegExp(fragment), fragment.length);
  }
  if (patterns.size === 0) return null;
  // Longest first, so a value containing another is replaced whole.
  const source = [...patterns.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([pattern]) => pattern)
    .join("|");
  const find = new RegExp(source);
  const replaceAll = new RegExp(source, "g");
  return {
    test: (text) => find.test(text),
    scrub: (text) => text.replace(replaceAll, REDACTED),
  };
}

/** What a scrubbed trace lost, by count only (names and lines may hold the values themselves). */
export interface ScrubbedTrace {
  /** The rewritten zip: the same entry names, less those dropped. */
  zip: Uint8Array;
  /** Entries left out: not readable as text and not a known binary format, or a binary holding a value. */
  droppedEntries: number;
  /** Lines of JSON entries left out: not valid JSON and holding a value. */
  droppedLines: number;
}

/**
 * Rewrites a Playwright trace zip with every occurrence of `secrets` replaced by `[redacted]`.
 * Throws when the zip cannot be read, or when one of its JSON entries is not UTF-8: the caller
 * must then not store the trace at all.
 */
export function scrubTraceZip(zip: Uint8Array, secrets: Iterable<string>): ScrubbedTrace {
  const values = [...new Set(secrets)].filter((secret) => secret !== "");
  const scrubber = createSecretScrubber(values);
  if (scrubber === null) return { zip, droppedEntries: 0, droppedLines: 0 };
  const binarySecrets = values.map((value) => Buffer.from(value, "utf8"));
  const entries = unzipSync(zip);
  const out: Zippable = {};
  let droppedEntries = 0;
  let droppedLines = 0;
  for (const [name, data] of Object.entries(entries)) {
    if (scrubber.test(name)) {
      droppedEntries++;
      continue;
    }
    const text = decodeUtf8(data);
    if (JSON_ENTRY.test(name)) {
      if (text === null) throw new Error(`trace entry ${name} is not UTF-8 text`);
      const scrubbed = scrubJsonLines(text, scrubber);
      droppedLines += scrubbed.droppedLines;
      out[name] = [scrubbed.text === text ? data : encoder.encode(scrubbed.text), { level: 6 }];
    } else if (text !== null) {
      const scrubbed = scrubber.scrub(text);
      out[name] = [scrubbed === text ? data : encoder.encode(scrubbed), { level: 6 }];
    } else if (isKnownBinary(data) && !binarySecrets.some((secret) => asBuffer(data).includes(secret))) {
      out[name] = [data, { level: 0 }];
    } else {
      droppedEntries++;
    }
  }
  return { zip: zipSync(out), droppedEntries, droppedLines };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function decodeUtf8(data: Uint8Array): string | null {
  try {
    return decoder.decode(data);
  } catch {
    return null;
  }
}

/**
 * Scrubs every string (keys too) of each JSON line holding a value, re-serialising only those
 * lines; a line holding a value that does not parse is dropped (the viewer could not read it
 * either). Numbers are left alone: a timestamp's digits are not what was typed.
 */
function scrubJsonLines(text: string, scrubber: SecretScrubber): { text: string; droppedLines: number } {
  if (!scrubber.test(text)) return { text, droppedLines: 0 };
  let droppedLines = 0;
  const lines: string[] = [];
  for (const line of text.split("\n")) {
    if (!scrubber.test(line)) {
      lines.push(line);
      continue;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      droppedLines++;
      continue;
    }
    lines.push(JSON.stringify(scrubJsonValue(parsed, scrubber)));
  }
  return { text: lines.join("\n"), droppedLines };
}

function scrubJsonValue(value: unknown, scrubber: SecretScrubber): unknown {
  if (typeof value === "string") return scrubber.scrub(value);
  if (Array.isArray(value)) return value.map((item) => scrubJsonValue(item, scrubber));
  if (value !== null && typeof value === "object") {
    // fromEntries defines own properties, so a "__proto__" key stays a key.
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [scrubber.scrub(key), scrubJsonValue(item, scrubber)]),
    );
  }
  return value;
}

/** Images, fonts, media and WebAssembly: formats a page's typed text does not end up in. */
function isKnownBinary(data: Uint8Array): boolean {
  const startsWith = (bytes: readonly number[], offset = 0) => bytes.every((byte, i) => data[offset + i] === byte);
  const ascii = (text: string) => [...text].map((char) => char.charCodeAt(0));
  return (
    startsWith([0x89, 0x50, 0x4e, 0x47]) || // PNG
    startsWith([0xff, 0xd8, 0xff]) || // JPEG
    startsWith(ascii("GIF8")) ||
    (startsWith(ascii("RIFF")) && startsWith(ascii("WEBP"), 8)) ||
    startsWith([0x00, 0x00, 0x01, 0x00]) || // ICO
    startsWith(ascii("BM")) ||
    startsWith(ascii("ftyp"), 4) || // AVIF, HEIC, MP4
    startsWith([0x1a, 0x45, 0xdf, 0xa3]) || // WebM
    startsWith(ascii("OggS")) ||
    startsWith(ascii("wOFF")) ||
    startsWith(ascii("wOF2")) ||
    startsWith([0x00, 0x01, 0x00, 0x00]) || // TrueType
    startsWith(ascii("OTTO")) ||
    startsWith([0x00, 0x61, 0x73, 0x6d]) // WebAssembly
  );
}

/**
 * The strings to match for one value: itself, itself URL-decoded (a `%41` in a value pasted raw
 * into a URL reads back as `A`), and the pieces a query-string parser splits either at `&`, `=`,
 * `#` or `?` (a HAR entry lists `?t=a&b` as `t: a` and `b`); pieces shorter than 3 characters
 * would match everywhere and say little, so they are not matched on their own.
 */
function secretForms(secret: string): string[] {
  const forms = new Set<string>();
  for (const whole of [secret, percentDecoded(secret)]) {
    forms.add(whole);
    for (const piece of whole.split(URL_DELIMITERS)) if (piece.length >= MIN_PIECE_LENGTH) forms.add(piece);
  }
  return [...forms];
}

function percentDecoded(text: string): string {
  return text.replace(/(?:%[0-9a-fA-F]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/** A regular expression source matching `form` with each character in any of its encodings. */
function formPattern(form: string): string {
  return [...form].map(characterPattern).join("");
}

/**
 * The backslashes before an escaped character when the escape is nested in JSON strings one,
 * two or three deep: `\n`, `\\n`, `\\\\n`. Fixed counts rather than `\\+`: one alternative
 * per position matches, so a long run of backslashes cannot make the search backtrack.
 */
const ESCAPE_PREFIX = "(?:\\\\{4}|\\\\{2}|\\\\)";
/** The same for a quote, whose own escape adds one more each time: `\"`, `\\\"`, then 7. */
const QUOTE_PREFIX = "(?:\\\\{7}|\\\\{3}|\\\\)";

/** Characters JSON (or JavaScript) escapes with a backslash and a letter, or may (`\/`). */
const JSON_SHORT_ESCAPES: Readonly<Record<string, string>> = {
  "/": "/",
  "\b": "b",
  "\f": "f",
  "\n": "n",
  "\r": "r",
  "\t": "t",
};

const HTML_NAMED: Readonly<Record<string, readonly string[]>> = {
  "&": ["&amp;", "&AMP;"],
  "<": ["&lt;", "&LT;"],
  ">": ["&gt;", "&GT;"],
  '"': ["&quot;", "&QUOT;"],
  "'": ["&apos;"],
};

/** One character (a code point) in any of its encodings, as a regular expression source. */
function characterPattern(char: string): string {
  const codePoint = char.codePointAt(0) ?? 0;
  const alternatives = new Set<string>([escapeRegExp(char)]);
  // JSON / JavaScript string escapes, nested up to three deep.
  if (char === "\\") alternatives.add("\\\\{8}").add("\\\\{4}").add("\\\\{2}");
  if (char === '"') alternatives.add(`${QUOTE_PREFIX}"`);
  const short = JSON_SHORT_ESCAPES[char];
  if (short !== undefined) alternatives.add(`${ESCAPE_PREFIX}${escapeRegExp(short)}`);
  const units = codePoint > 0xffff ? [char.charCodeAt(0), char.charCodeAt(1)] : [codePoint];
  alternatives.add(units.map((unit) => `${ESCAPE_PREFIX}u${hexPattern(unit, 4)}`).join(""));
  if (codePoint < 0x100) alternatives.add(`${ESCAPE_PREFIX}x${hexPattern(codePoint, 2)}`);
  // URL and form encoding of the UTF-8 bytes, possibly encoded twice (`%2541`).
  alternatives.add([...Buffer.from(char, "utf8")].map((byte) => `%(?:25)*${hexPattern(byte, 2)}`).join(""));
  if (char === " ") alternatives.add("\\+");
  // A raw "+" in a query string reads back as a space.
  if (char === "+") alternatives.add(" ").add("%(?:25)*20");
  // HTML character references.
  for (const named of HTML_NAMED[char] ?? []) alternatives.add(named);
  alternatives.add(`&#0*${codePoint};`);
  alternatives.add(`&#[xX]0*${hexPattern(codePoint, 1)};`);
  return `(?:${[...alternatives].join("|")})`;
}

/** Hex digits of `value`, at least `width` of them, each letter in either case. */
function hexPattern(value: number, width: number): string {
  return value
    .toString(16)
    .padStart(width, "0")
    .replace(/[a-f]/g, (digit) => `[${digit}${digit.toUpperCase()}]`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, "\\$&");
}

/**
 * The parts of base64 text that depend only on the value's bytes, for each of the three byte
 * offsets the value can start at inside a longer base64-encoded text, in the standard and the
 * URL-safe alphabet.
 */
function base64Fragments(secret: string): string[] {
  const bytes = Buffer.from(secret, "utf8");
  const fragments = new Set<string>();
  for (let offset = 0; offset < 3; offset++) {
    const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
    // Character i encodes bits [6i, 6i + 6); keep those entirely inside the value's bits.
    const first = Math.ceil((8 * offset) / 6);
    const end = Math.floor((8 * (offset + bytes.length)) / 6);
    const fragment = encoded.slice(first, end);
    if (fragment.length < MIN_BASE64_FRAGMENT_LENGTH) continue;
    fragments.add(fragment);
    fragments.add(fragment.replace(/\+/g, "-").replace(/\//g, "_"));
  }
  return [...fragments];
}
