/**
 * Bad input is never a 500. A corpus of hostile requests — generated with fast-check for every
 * route the app registers (enumerated from the app itself, so a new route is covered without
 * touching this file), plus the cases that used to be 500s — against the real API, Postgres and
 * Redis. Every answer is below 500; every 4xx is the error envelope and a 400 names its field;
 * the log holds no query string and no error line; and nothing is written: every table's row
 * count and the queue are unchanged.
 *
 * Requests to routes that write are hostile by construction (each carries at least one thing the
 * API must refuse: a NUL, a lone surrogate, too deep a nesting, a wrong type or an out-of-range
 * value for a declared field, an unknown field where the schema is strict, a prototype key), so
 * any 2xx from them is a failure. Reads may happen to be valid and answer 200.
 */
import { createProject } from "@conveyor/db";
import { createTestDatabase, type TestDatabase } from "@conveyor/db/testing";
import * as fc from "fast-check";
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type LightMyRequestResponse as InjectResponse,
  type RouteOptions,
} from "fastify";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { handleFrameworkError, registerErrorHandling } from "../src/plugins/errors.ts";
import { ADMIN_TOKEN, auth, createProjectViaApi, createTestApp, sampleRecording, type TestApp } from "./helpers.ts";

const SEED = 20_261_123;
/** Generated requests over all routes, at least (each route gets its share, at least MIN_RUNS_PER_ROUTE). */
const GENERATED_CASES = 200;
const MIN_RUNS_PER_ROUTE = 4;
/** Every case, generated and listed, at least. */
const MIN_CASES = 150;

// ---------------------------------------------------------------------------------------------
// The app under test, and every route it registers.

const logLines: string[] = [];
const collected: RouteOptions[] = [];
const t: TestApp = await createTestApp("badinput", {
  // Room for the 200,000-level body: it must reach the guard, not the body limit.
  bodyLimitBytes: 2 * 1024 * 1024,
  logger: pino({ level: "info" }, { write: (line: string) => void logLines.push(line) }),
  onRoute: (route) => void collected.push(route),
});

type AuthMode = "project" | "admin" | "metrics" | "public";

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
}

interface RouteUnderTest {
  method: string;
  url: string;
  auth: AuthMode;
  /** Anything but GET and HEAD: every generated request to it is hostile by construction. */
  writes: boolean;
  /** Whether Fastify parses a body for it (it does for every method but GET and HEAD). */
  hasBody: boolean;
  body: JsonSchema | undefined;
  query: JsonSchema | undefined;
  paramNames: string[];
  /**
   * What a clean request (no query, no body) answers, for reads without parameters: a health
   * route answers 503 when there is no worker, which is the system's state, not the input's.
   */
  cleanStatus?: number;
}

/** The JSON Schema of a route's zod (or JSON) schema part, as the client must satisfy it. */
function jsonSchemaOf(schema: unknown): JsonSchema | undefined {
  if (schema === undefined || schema === null || typeof schema !== "object") return undefined;
  if ("_zod" in schema) {
    try {
      return z.toJSONSchema(schema as z.ZodType, { io: "input", unrepresentable: "any" }) as JsonSchema;
    } catch {
      return {};
    }
  }
  return schema as JsonSchema;
}

/**
 * Left out: the event streams (a request that is not refused opens a stream that does not end;
 * their input, the status filter and Last-Event-ID, is tested in streams.test.ts) and Bull Board's
 * own routes (a third party's, admin-only: bull-board.test.ts).
 */
function walked(url: string): boolean {
  return !url.endsWith("/stream") && url !== "/admin/queues" && !url.startsWith("/admin/queues/");
}

function routesUnderTest(): RouteUnderTest[] {
  const byKey = new Map<string, RouteUnderTest>();
  for (const route of collected) {
    if (!walked(route.url)) continue;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const config = (route.config ?? {}) as { auth?: AuthMode };
    for (const method of methods) {
      const key = `${method} ${route.url}`;
      if (byKey.has(key)) continue;
      const writes = method !== "GET" && method !== "HEAD";
      byKey.set(key, {
        method,
        url: route.url,
        auth: config.auth ?? "project",
        writes,
        hasBody: writes,
        body: jsonSchemaOf(route.schema?.body),
        query: jsonSchemaOf(route.schema?.querystring),
        paramNames: [...route.url.matchAll(/:(\w+)|\*/g)].map((match) => match[1] ?? "*"),
      });
    }
  }
  return [...byKey.values()].sort((a, b) => `${a.url} ${a.method}`.localeCompare(`${b.url} ${b.method}`));
}

const routes = routesUnderTest();

// ---------------------------------------------------------------------------------------------
// What a request is, how it is sent, and what every answer must be.

interface HostileRequest {
  method: string;
  /** Path parameters, raw: encoded when the URL is built. */
  params: Record<string, string>;
  /** Query pairs, raw (a key may repeat). */
  query: [string, string][];
  /** A JS value sent as JSON, or raw JSON text. */
  body?: { json: unknown } | { raw: string };
  idempotencyKey?: string;
}

/**
 * Percent-encodes as a hostile client may: UTF-8, and a lone surrogate as the three bytes a lax
 * encoder writes for it (not valid UTF-8, which the server must refuse, not crash on).
 */
function encodeComponent(value: string): string {
  let out = "";
  for (const char of value) {
    const code = char.codePointAt(0) ?? 0;
    if (code >= 0xd800 && code <= 0xdfff) {
      const bytes = [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)];
      out += bytes.map((byte) => `%${byte.toString(16).toUpperCase()}`).join("");
    } else {
      out += encodeURIComponent(char);
    }
  }
  return out;
}

function urlOf(route: RouteUnderTest, request: HostileRequest): string {
  const path = route.url.replace(/:(\w+)|\*/g, (_match, name: string | undefined) => {
    const value = request.params[name ?? "*"] ?? "x";
    // The wildcard keeps its slashes: it is a path.
    return name === undefined ? value.split("/").map(encodeComponent).join("/") : encodeComponent(value);
  });
  const query = request.query.map(([key, value]) => `${encodeComponent(key)}=${encodeComponent(value)}`).join("&");
  return query ? `${path}?${query}` : path;
}

let apiKey = "";
/** Ids of rows that exist, used in reads only (a write to a real row would change it). */
const realIds: string[] = [];
let casesSent = 0;

async function send(route: RouteUnderTest, request: HostileRequest): Promise<InjectResponse> {
  const headers: Record<string, string> =
    route.auth === "admin" ? auth(ADMIN_TOKEN) : route.auth === "project" ? auth(apiKey) : {};
  if (request.idempotencyKey !== undefined) headers["idempotency-key"] = request.idempotencyKey;
  let payload: string | undefined;
  if (request.body !== undefined) {
    headers["content-type"] = "application/json";
    payload = "raw" in request.body ? request.body.raw : JSON.stringify(request.body.json);
  }
  return t.app.inject({
    method: request.method as "GET",
    url: urlOf(route, request),
    headers,
    ...(payload === undefined ? {} : { payload }),
  });
}

/** What is wrong with an answer, or null: the rules every answer to bad input follows. */
function answerProblem(route: RouteUnderTest, response: InjectResponse): string | null {
  const status = response.statusCode;
  const stateNotInput = status === 503 && route.cleanStatus === 503;
  if (status >= 500 && !stateNotInput) return `answered ${status}: ${response.body.slice(0, 300)}`;
  if (route.writes && status < 300) return `accepted a hostile request (${status}): ${response.body.slice(0, 300)}`;
  if (status < 400 || route.method === "HEAD" || stateNotInput) return null;
  let envelope: { error?: { code?: unknown; message?: unknown; requestId?: unknown; details?: unknown } };
  try {
    envelope = response.json();
  } catch {
    return `${status} without a JSON body: ${response.body.slice(0, 300)}`;
  }
  const error = envelope.error;
  if (
    typeof error?.code !== "string" ||
    typeof error.message !== "string" ||
    typeof error.requestId !== "string" ||
    !error.requestId.startsWith("req_")
  ) {
    return `${status} outside the error envelope: ${response.body.slice(0, 300)}`;
  }
  if (status === 400) {
    const fields = (error.details as { fields?: unknown[] } | undefined)?.fields;
    const namesField = /^(body|querystring|params|headers)[.:[]/.test(error.message);
    if (!namesField && !(Array.isArray(fields) && fields.length > 0)) return `400 naming no field: ${error.message}`;
  }
  return null;
}

function describeRequest(route: RouteUnderTest, request: HostileRequest): string {
  const body =
    request.body === undefined
      ? ""
      : ` body ${("raw" in request.body ? request.body.raw : JSON.stringify(request.body.json)).slice(0, 400)}`;
  const key = request.idempotencyKey === undefined ? "" : ` idempotency-key ${JSON.stringify(request.idempotencyKey)}`;
  return `${request.method} ${urlOf(route, request).slice(0, 400)}${key}${body}`;
}

async function expectRefusedSafely(route: RouteUnderTest, request: HostileRequest): Promise<InjectResponse> {
  casesSent++;
  const response = await send(route, request);
  const problem = answerProblem(route, response);
  if (problem) throw new Error(`${describeRequest(route, request)}\n→ ${problem}`);
  return response;
}

// ---------------------------------------------------------------------------------------------
// Generators.

const NASTY_STRINGS = [
  "",
  " ",
  "NaN",
  "-NaN",
  "Infinity",
  "-Infinity",
  "1e309",
  "-1e309",
  "0x10",
  "1_000",
  "٣",
  "-0",
  "9007199254740993",
  "null",
  "undefined",
  "true",
  "[]",
  "{}",
  "[object Object]",
  "__proto__",
  "constructor",
  "toString",
  "' OR '1'='1",
  '"; drop table runs; --',
  "../../../../etc/passwd",
  "..%2F..%2F",
  "%00",
  "%",
  "%zz",
  "\\u0000",
  "${PASSWORD}",
  "{{7*7}}",
  "<script>alert(1)</script>",
  "\u202e\u202dabc",
  "\ufeff",
  "\u200b",
  "e\u0301\u0301\u0301",
  "🛒",
  "\u{10ffff}",
  "\uffff",
  "\u2028\u2029",
  "\r\n",
  "ｆｕｌｌ",
  "İ",
  "run_00000000000000000000000000",
  "prj_zzzzzzzzzzzzzzzzzzzzzzzzzz",
];

/** A string holding something the API must refuse wherever it is: U+0000 or a lone surrogate. */
const poisonString = fc
  .tuple(
    fc.string({ maxLength: 12 }),
    fc.constantFrom("\u0000", "\ud800", "\udfff", "\udc00\ud800", "\u0000\u0000"),
    fc.string({ maxLength: 12 }),
  )
  .map(([before, poison, after]) => `${before}${poison}${after}`);

/** A long string of one non-space character (a trimmed schema cannot shorten it). */
const longString = (min: number, max: number) =>
  fc.tuple(fc.integer({ min, max }), fc.constantFrom("x", "é", "🛒")).map(([length, char]) => char.repeat(length));

/** Strings a client should not send but may: odd, long, unicode, and sometimes poison. */
const wildString = fc.oneof(
  fc.constantFrom(...NASTY_STRINGS),
  fc.string({ unit: "binary", maxLength: 24 }),
  fc.string({ unit: "grapheme", maxLength: 24 }),
  longString(200, 3000),
  poisonString,
);

const wildNumber = fc.oneof(
  fc.constantFrom(1e308, -1e308, 5e-324, -0, 2 ** 53 + 1, -(2 ** 53) - 1, 2 ** 31, -(2 ** 31) - 1, 0.5, 1.5),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);

const wildKey = fc.oneof(
  fc.constantFrom(
    "__proto__",
    "constructor",
    "prototype",
    "",
    " ",
    "a.b",
    "[0]",
    "$where",
    "toString",
    "x".repeat(300),
  ),
  fc.string({ maxLength: 10 }),
);

/** An own property, even `__proto__` (assignment would set the prototype instead). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const wildLeaf: fc.Arbitrary<unknown> = fc.oneof(wildString, wildNumber, fc.boolean(), fc.constant(null));
const wildValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: wildLeaf },
  {
    weight: 1,
    arbitrary: fc.array(wildLeaf, { maxLength: 4 }),
  },
  {
    weight: 1,
    arbitrary: fc.array(fc.tuple(wildKey, wildLeaf), { maxLength: 4 }).map((entries) => {
      const object: Record<string, unknown> = {};
      for (const [key, value] of entries) setOwn(object, key, value);
      return object;
    }),
  },
);

function nest(depth: number, leaf: unknown, asObjects: boolean): unknown {
  let value = leaf;
  for (let i = 0; i < depth; i++) value = asObjects ? { a: value } : [value];
  return value;
}

/** Deeper than the API's 64 levels (JSON.stringify writes up to a few thousand). */
const tooDeep = fc
  .tuple(fc.integer({ min: 65, max: 3000 }), fc.boolean())
  .map(([depth, asObjects]) => nest(depth, 1, asObjects));

const ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
/** A well-formed id no row has. */
const unknownId = fc
  .tuple(
    fc.constantFrom("run", "rec", "prj", "key", "evt"),
    fc.array(fc.constantFrom(...ID_ALPHABET), { minLength: 26, maxLength: 26 }),
  )
  .map(([prefix, chars]) => `${prefix}_${chars.join("")}`);

const wildId = fc.oneof(unknownId, wildString, longString(65, 400), poisonString);

function base64url(text: string): string {
  return Buffer.from(text).toString("base64url");
}

const cursorDate = fc.oneof(
  fc.constantFrom(
    "+275760-09-13T00:00:00.000Z",
    "-271821-04-20T00:00:00.000Z",
    "0000-01-01T00:00:00.000Z",
    "1969-12-31T23:59:59.999Z",
    "1970-01-01T00:00:00.000Z",
    "9999-12-31T23:59:59.999Z",
    "+010000-01-01T00:00:00.000Z",
    "2026-02-30T00:00:00.000Z",
    "yesterday",
  ),
  fc.date({ noInvalidDate: false }).map((date) => (Number.isNaN(date.getTime()) ? "Invalid Date" : date.toISOString())),
);

/** Cursors a client may craft: our shape with hostile parts, other JSON, or not base64 at all. */
const craftedCursor = fc.oneof(
  fc.tuple(cursorDate, fc.oneof(unknownId, wildString)).map((pair) => base64url(JSON.stringify(pair))),
  fc.jsonValue({ maxDepth: 3 }).map((value) => base64url(JSON.stringify(value) ?? "null")),
  wildString,
  longString(513, 2000),
);

function queryValueFor(name: string): fc.Arbitrary<string> {
  if (name === "cursor") return craftedCursor;
  return fc.oneof(wildString, wildNumber.map(String));
}

/** Query pairs: the route's own parameters (and others), hostile values, keys repeated. */
function wildQuery(route: RouteUnderTest): fc.Arbitrary<[string, string][]> {
  const known = Object.keys(route.query?.properties ?? {});
  const key = known.length > 0 ? fc.oneof(fc.constantFrom(...known), wildKey) : wildKey;
  return fc.array(
    key.chain((name) => queryValueFor(name).map((value): [string, string] => [name, value])),
    { maxLength: 4 },
  );
}

function wildParams(route: RouteUnderTest): fc.Arbitrary<Record<string, string>> {
  const record: Record<string, fc.Arbitrary<string>> = {};
  for (const name of route.paramNames) {
    if (name === "*") {
      record[name] = fc.oneof(
        fc.constantFrom("screenshots/1.png", "../../../etc/passwd", "a/../../b", "%2e%2e/x", "x".repeat(600)),
        wildString,
      );
    } else {
      // A real id only where nothing is written: reads may find it, writes must never touch it.
      record[name] = route.writes ? wildId : fc.oneof(wildId, fc.constantFrom(...realIds));
    }
  }
  return fc.record(record);
}

// ----- bodies

/** A valid body for the routes that exist today, so that mutations land on real fields; else {}. */
function baseBody(route: RouteUnderTest): unknown {
  switch (`${route.method} ${route.url}`) {
    case "POST /api/runs":
      return { recording: sampleRecording("corpus"), variables: { PASSWORD: "pw" } };
    case "POST /api/recordings":
      return sampleRecording("corpus");
    case "POST /api/projects":
      return { name: "corpus" };
    case "PATCH /api/projects/:id":
      return { limits: { maxPriority: 2 }, egress: { allow: ["example.test"] } };
    case "POST /api/keys":
      return { name: "corpus", scopes: ["runs:read"] };
    case "POST /api/keys/:id/rotate":
      return { gracePeriodSeconds: 60 };
    default:
      return {};
  }
}

type Path = (string | number)[];

/** Every node of a JSON value (containers and leaves), with its path. */
function nodesOf(value: unknown): { path: Path; value: unknown }[] {
  const out: { path: Path; value: unknown }[] = [];
  const stack: { path: Path; value: unknown }[] = [{ path: [], value }];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    out.push(node);
    if (Array.isArray(node.value)) {
      for (const [i, item] of node.value.entries()) stack.push({ path: [...node.path, i], value: item });
    } else if (node.value !== null && typeof node.value === "object") {
      for (const [key, item] of Object.entries(node.value)) stack.push({ path: [...node.path, key], value: item });
    }
  }
  return out;
}

/** `root` with the value at `path` replaced (objects made on the way). */
function setAt(root: unknown, path: Path, value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string | number, ...Path];
  if (Array.isArray(root) && typeof head === "number") {
    const copy = [...root];
    copy[head] = setAt(copy[head], rest, value);
    return copy;
  }
  const copy: Record<string, unknown> = {};
  if (root !== null && typeof root === "object" && !Array.isArray(root)) {
    for (const [key, item] of Object.entries(root)) setOwn(copy, key, item);
  }
  setOwn(copy, String(head), setAt(copy[String(head)], rest, value));
  return copy;
}

/** Puts `value` somewhere in `body`: replacing a node, or as a new child of a container. */
function placeSomewhere(body: unknown, pick: number, childKey: string, value: unknown): unknown {
  const nodes = nodesOf(body);
  const node = nodes[pick % nodes.length] ?? { path: [], value: body };
  if (Array.isArray(node.value)) return setAt(body, [...node.path, node.value.length], value);
  if (node.value !== null && typeof node.value === "object") return setAt(body, [...node.path, childKey], value);
  return setAt(body, node.path, value);
}

type Kind = "string" | "number" | "boolean" | "null" | "array" | "object";
const KINDS: Kind[] = ["string", "number", "boolean", "null", "array", "object"];

/** The JSON kinds a schema allows, or null when it allows anything (or cannot tell). */
function kindsOf(schema: JsonSchema): Set<Kind> | null {
  const branches = schema.anyOf ?? schema.oneOf ?? [schema];
  const kinds = new Set<Kind>();
  for (const branch of branches) {
    const types = branch.type === undefined ? null : Array.isArray(branch.type) ? branch.type : [branch.type];
    if (types === null) return null;
    for (const type of types) kinds.add(type === "integer" ? "number" : (type as Kind));
  }
  return kinds;
}

function valueOfKind(kind: Kind): fc.Arbitrary<unknown> {
  switch (kind) {
    case "string":
      return wildString;
    case "number":
      return wildNumber;
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(wildLeaf, { maxLength: 3 });
    case "object":
      return fc.dictionary(fc.string({ maxLength: 6 }), wildLeaf, { maxKeys: 3 });
  }
}

/** Declared fields of a body schema (nested objects too), with their schemas. */
function declaredFields(
  schema: JsonSchema | undefined,
  path: Path = [],
  depth = 0,
): { path: Path; schema: JsonSchema }[] {
  if (!schema?.properties || depth > 3) return [];
  return Object.entries(schema.properties).flatMap(([name, field]) => [
    { path: [...path, name], schema: field },
    ...declaredFields(field, [...path, name], depth + 1),
  ]);
}

/** Values a field's schema refuses for sure: outside its bounds, or of a kind it does not allow. */
function refusedValues(schema: JsonSchema): fc.Arbitrary<unknown> | null {
  const options: fc.Arbitrary<unknown>[] = [];
  const kinds = kindsOf(schema);
  if (kinds !== null) {
    const wrong = KINDS.filter((kind) => !kinds.has(kind));
    if (wrong.length > 0) options.push(fc.constantFrom(...wrong).chain(valueOfKind));
  }
  const branch = (schema.anyOf ?? schema.oneOf ?? [schema]).find((b) => b.type !== "null") ?? schema;
  const integer = branch.type === "integer";
  if (typeof branch.maximum === "number") {
    const max = branch.maximum;
    options.push(
      fc.oneof(
        fc.constant(1e308),
        fc.integer({ min: 1, max: 1e9 }).map((step) => max + step),
      ),
    );
  }
  if (typeof branch.minimum === "number") {
    const min = branch.minimum;
    options.push(
      fc.oneof(
        fc.constant(-1e308),
        fc.integer({ min: 1, max: 1e9 }).map((step) => min - step),
      ),
    );
  }
  if (integer) options.push(fc.constantFrom(0.5, 1.25, 2 ** 53 + 0.5, Number.MIN_VALUE));
  if (typeof branch.maxLength === "number") options.push(longString(branch.maxLength + 1, branch.maxLength + 2000));
  if (typeof branch.minLength === "number" && branch.minLength > 0) options.push(fc.constant(""));
  if (Array.isArray(branch.enum) && branch.enum.every((value) => typeof value === "string")) {
    const allowed = new Set(branch.enum);
    options.push(wildString.filter((value) => !allowed.has(value)));
  }
  if (typeof branch.maxItems === "number") {
    options.push(fc.constant(Array.from({ length: branch.maxItems + 1 }, (_v, i) => `item${i}`)));
  }
  if (typeof branch.minItems === "number" && branch.minItems > 0) options.push(fc.constant([]));
  return options.length > 0 ? fc.oneof(...options) : null;
}

// ----- the requests

/** Harmless-or-not changes: they may make a request invalid, but never count on it. */
function noise(route: RouteUnderTest): fc.Arbitrary<(request: HostileRequest) => HostileRequest> {
  const options: fc.Arbitrary<(request: HostileRequest) => HostileRequest>[] = [
    wildQuery(route).map((query) => (request) => ({ ...request, query: [...request.query, ...query] })),
    fc
      .oneof(wildString, fc.string({ maxLength: 40 }), longString(256, 600))
      .map((key) => (request) => ({ ...request, idempotencyKey: key })),
  ];
  if (route.hasBody) {
    options.push(
      fc.tuple(fc.nat(), wildKey, wildValue).map(([pick, key, value]) => (request) => {
        const body = request.body && "json" in request.body ? request.body.json : {};
        return { ...request, body: { json: placeSomewhere(body, pick, key, value) } };
      }),
    );
  }
  return fc.oneof(...options);
}

/** Changes the API must refuse, wherever they land; a write route's request always carries one. */
function poison(route: RouteUnderTest): fc.Arbitrary<(request: HostileRequest) => HostileRequest> {
  const options: fc.Arbitrary<(request: HostileRequest) => HostileRequest>[] = [
    fc.tuple(fc.oneof(wildKey, poisonString), poisonString, fc.boolean()).map(([key, value, inKey]) => (request) => ({
      ...request,
      query: [...request.query, inKey ? [value, "1"] : [key, value]] as [string, string][],
    })),
    poisonString.map((key) => (request) => ({ ...request, idempotencyKey: key })),
  ];
  for (const name of route.paramNames) {
    options.push(
      fc
        .oneof(poisonString, longString(101, 500))
        .map((value) => (request) => ({ ...request, params: { ...request.params, [name]: value } })),
    );
  }
  if (route.hasBody) {
    const bodyOf = (request: HostileRequest) => (request.body && "json" in request.body ? request.body.json : {});
    options.push(
      // A poison string (or a too-deep value) somewhere in the body, or as a key.
      fc.tuple(fc.nat(), wildKey, fc.oneof(poisonString, tooDeep)).map(([pick, key, value]) => (request) => ({
        ...request,
        body: { json: placeSomewhere(bodyOf(request), pick, key, value) },
      })),
      fc.tuple(fc.nat(), poisonString, wildLeaf).map(([pick, key, value]) => (request) => ({
        ...request,
        body: { json: placeSomewhere(bodyOf(request), pick, key, value) },
      })),
      // A prototype key, which the JSON parser refuses.
      fc
        .constantFrom('"__proto__":{"admin":true}', '"constructor":{"prototype":{"admin":true}}')
        .map((member) => (request) => {
          const text = JSON.stringify(bodyOf(request)) ?? "null";
          const raw = text.startsWith("{") ? `{${member}${text === "{}" ? "" : ","}${text.slice(1)}` : `{${member}}`;
          return { ...request, body: { raw } };
        }),
    );
    const schema = route.body;
    if (schema) {
      const kinds = kindsOf(schema);
      if (kinds !== null && !kinds.has("array") && !kinds.has("string")) {
        // A body of the wrong kind altogether: an array where an object is expected, a string.
        options.push(
          fc
            .oneof(
              fc.array(wildLeaf, { maxLength: 3 }),
              wildString.map((s) => JSON.stringify(s)),
            )
            .map((value) => (request) => ({
              ...request,
              body: typeof value === "string" ? { raw: value } : { json: value },
            })),
        );
      }
      const fields = declaredFields(schema)
        .map((field) => ({ ...field, refused: refusedValues(field.schema) }))
        .filter(
          (field): field is { path: Path; schema: JsonSchema; refused: fc.Arbitrary<unknown> } =>
            field.refused !== null,
        );
      if (fields.length > 0) {
        options.push(
          fc
            .integer({ min: 0, max: fields.length - 1 })
            .chain((index) => {
              const field = fields[index] as (typeof fields)[number];
              return field.refused.map((value) => ({ path: field.path, value }));
            })
            .map(({ path, value }) => (request) => ({
              ...request,
              body: { json: setAt(bodyOf(request), path, value) },
            })),
        );
      }
      if (schema.additionalProperties === false) {
        // An unknown field where the schema is strict.
        const known = new Set(Object.keys(schema.properties ?? {}));
        options.push(
          fc
            .tuple(
              fc.string({ minLength: 1, maxLength: 12 }).filter((key) => !known.has(key) && key !== "__proto__"),
              wildValue,
            )
            .map(([key, value]) => (request) => ({ ...request, body: { json: setAt(bodyOf(request), [key], value) } })),
        );
      }
    }
  }
  return fc.oneof(...options);
}

function hostileRequest(route: RouteUnderTest): fc.Arbitrary<HostileRequest> {
  const base = fc.record({ params: wildParams(route), query: wildQuery(route) }).map(
    ({ params, query }): HostileRequest => ({
      method: route.method,
      params,
      query,
      ...(route.hasBody ? { body: { json: baseBody(route) } } : {}),
    }),
  );
  // Writes always carry poison (applied last, so no noise can undo it); reads only sometimes.
  const poisons = route.writes
    ? fc.array(poison(route), { minLength: 1, maxLength: 2 })
    : fc.array(poison(route), { maxLength: 1 });
  return fc
    .tuple(base, fc.array(noise(route), { maxLength: 3 }), poisons)
    .map(([request, noises, poisonings]) => [...noises, ...poisonings].reduce((acc, change) => change(acc), request));
}

// ---------------------------------------------------------------------------------------------
// State that must not change: every table's row count and the queue.

async function tableCounts(): Promise<Record<string, number>> {
  const tables = await t.db.query<{ table_name: string }>(
    "select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by table_name",
  );
  const counts: Record<string, number> = {};
  for (const { table_name: name } of tables) {
    const [row] = await t.db.query<{ n: number }>(
      `select count(*)::int as n from public."${name.replaceAll('"', '""')}"`,
    );
    counts[name] = row?.n ?? -1;
  }
  await t.runQueue.settle();
  const jobs = await t.inspectQueue.getJobCounts();
  for (const [state, n] of Object.entries(jobs)) counts[`queue:${state}`] = n;
  return counts;
}

let before: Record<string, number> = {};
let linesBefore = 0;

beforeAll(async () => {
  const project = await createProjectViaApi(t.app, "bad-input");
  apiKey = project.apiKey;
  // Rows for reads to find, and lists to page through.
  const recording = await t.app.inject({
    method: "POST",
    url: "/api/recordings",
    headers: auth(apiKey),
    payload: sampleRecording("stored"),
  });
  const run = await t.app.inject({
    method: "POST",
    url: "/api/runs",
    headers: auth(apiKey),
    payload: { recording: sampleRecording("queued") },
  });
  expect(recording.statusCode).toBe(201);
  expect(run.statusCode).toBe(202);
  realIds.push(project.id, (recording.json() as { id: string }).id, (run.json() as { id: string }).id);
  for (const route of routes.filter((candidate) => !candidate.writes && candidate.paramNames.length === 0)) {
    route.cleanStatus = (await send(route, { method: route.method, params: {}, query: [] })).statusCode;
  }
  before = await tableCounts();
  linesBefore = logLines.length;
});

afterAll(async () => {
  await t.close();
});

describe("bad input, generated for every route", () => {
  const runsPerRoute = Math.max(MIN_RUNS_PER_ROUTE, Math.ceil(GENERATED_CASES / routes.length));

  it("enumerates the app's routes, the project, admin and key routes included", () => {
    const keys = routes.map((route) => `${route.method} ${route.url}`);
    for (const expected of [
      "POST /api/runs",
      "POST /api/recordings",
      "POST /api/projects",
      "PATCH /api/projects/:id",
    ]) {
      expect(keys).toContain(expected);
    }
    expect(routes.some((route) => route.url.startsWith("/api/keys"))).toBe(true);
  });

  for (const route of routes) {
    it(`${route.method} ${route.url} (${route.auth})`, async () => {
      const seed = [...`${route.method} ${route.url}`].reduce(
        (hash, char) => (hash * 31 + char.charCodeAt(0)) | 0,
        SEED,
      );
      await fc.assert(
        fc.asyncProperty(hostileRequest(route), async (request) => {
          await expectRefusedSafely(route, request);
        }),
        { seed, numRuns: runsPerRoute, endOnFailure: true },
      );
    });
  }
});

describe("the cases that used to be 500s", () => {
  const route = (method: string, url: string): RouteUnderTest => {
    const found = routes.find((candidate) => candidate.method === method && candidate.url === url);
    if (!found) throw new Error(`no route ${method} ${url}`);
    return found;
  };
  const request = (method: string, body: unknown, extra: Partial<HostileRequest> = {}): HostileRequest => ({
    method,
    params: {},
    query: [],
    body: { json: body },
    ...extra,
  });

  async function expectFieldRefused(
    target: RouteUnderTest,
    hostile: HostileRequest,
    field: string,
    message: RegExp,
  ): Promise<void> {
    const response = await expectRefusedSafely(target, hostile);
    expect(response.statusCode, response.body).toBe(400);
    const { error } = response.json() as { error: { code: string; message: string; details: { fields: unknown[] } } };
    expect(error.code).toBe("validation_failed");
    expect(error.message).toMatch(new RegExp(`^${field.replace(/[.[\]]/g, "\\$&")}: `));
    expect(error.message).toMatch(message);
    expect(error.details.fields).toEqual([{ field, message: expect.stringMatching(message) }]);
  }

  const POISONS = [
    ["a NUL", "check\u0000out", /NUL/],
    ["a lone surrogate", "check\ud800out", /lone surrogate/],
  ] as const;

  for (const [label, value, message] of POISONS) {
    it(`${label} in a recording's name`, async () => {
      await expectFieldRefused(
        route("POST", "/api/recordings"),
        request("POST", sampleRecording(value)),
        "body.name",
        message,
      );
    });

    it(`${label} in an inline run's name, and in an action`, async () => {
      await expectFieldRefused(
        route("POST", "/api/runs"),
        request("POST", { recording: sampleRecording(value) }),
        "body.recording.name",
        message,
      );
      const recording = sampleRecording();
      const actions = recording.actions.map((action, i) => (i === 2 ? { ...action, name: value } : action));
      await expectFieldRefused(
        route("POST", "/api/runs"),
        request("POST", { recording: { ...recording, actions } }),
        "body.recording.actions[2].name",
        message,
      );
    });

    it(`${label} in a project's name`, async () => {
      await expectFieldRefused(route("POST", "/api/projects"), request("POST", { name: value }), "body.name", message);
    });

    it(`${label} in a variable's value, and in its name`, async () => {
      await expectFieldRefused(
        route("POST", "/api/runs"),
        request("POST", { recording: sampleRecording(), variables: { PASSWORD: value } }),
        "body.variables.PASSWORD",
        message,
      );
      await expectFieldRefused(
        route("POST", "/api/runs"),
        request("POST", { recording: sampleRecording(), variables: { [`PASS${value}`]: "x" } }),
        "body.variables",
        message,
      );
    });

    it(`${label} in the Idempotency-Key header`, async () => {
      await expectFieldRefused(
        route("POST", "/api/runs"),
        request("POST", { recording: sampleRecording() }, { idempotencyKey: `key-${value}` }),
        "headers.idempotency-key",
        message,
      );
    });
  }

  it("a NUL in a path parameter and in a query parameter", async () => {
    await expectFieldRefused(
      route("GET", "/api/runs/:id"),
      { method: "GET", params: { id: "run_\u0000" }, query: [] },
      "params.id",
      /NUL/,
    );
    await expectFieldRefused(
      route("GET", "/api/runs"),
      { method: "GET", params: {}, query: [["status", "queued\u0000"]] },
      "querystring.status",
      /NUL/,
    );
  });

  it("a path that is not UTF-8, or a parameter longer than the router takes", async () => {
    for (const id of ["\ud800", "x".repeat(300)]) {
      const response = await expectRefusedSafely(route("GET", "/api/runs/:id"), {
        method: "GET",
        params: { id },
        query: [],
      });
      expect(response.statusCode).toBe(400);
      expect((response.json() as { error: { message: string } }).error.message).toMatch(/^params: /);
    }
  });

  it("a 200,000-level nested body sent with an Idempotency-Key", async () => {
    const depth = 200_000;
    const deep = `${"[".repeat(depth)}${"]".repeat(depth)}`;
    for (const raw of [
      `{"recording":${deep}}`,
      `{"recording":${JSON.stringify(sampleRecording()).slice(0, -1)},"x":${deep}}}`,
    ]) {
      await expectFieldRefused(
        route("POST", "/api/runs"),
        { method: "POST", params: {}, query: [], body: { raw }, idempotencyKey: "deep-1" },
        "body",
        /nested deeper than 64 levels/,
      );
    }
    // Every other route that takes a body refuses it the same way.
    for (const target of routes.filter((candidate) => candidate.hasBody)) {
      const response = await expectRefusedSafely(target, {
        method: target.method,
        params: Object.fromEntries(target.paramNames.map((name) => [name, "key_00000000000000000000000000"])),
        query: [],
        body: { raw: `{"a":${deep}}` },
      });
      expect(response.statusCode, `${target.method} ${target.url}`).toBe(400);
    }
  });

  it("a prototype key in a body is refused, naming the body", async () => {
    for (const target of routes.filter((candidate) => candidate.hasBody)) {
      const response = await expectRefusedSafely(target, {
        method: target.method,
        params: Object.fromEntries(target.paramNames.map((name) => [name, "key_00000000000000000000000000"])),
        query: [],
        body: { raw: '{"name":"x","__proto__":{"admin":true}}' },
      });
      expect(response.statusCode, `${target.method} ${target.url}`).toBe(400);
    }
  });

  const cursorOf = (iso: string, id = "run_00000000000000000000000000") => base64url(JSON.stringify([iso, id]));
  const lists = () => routes.filter((candidate) => candidate.method === "GET" && candidate.query?.properties?.cursor);

  it("finds the paginated lists", () => {
    expect(lists().map((list) => list.url)).toEqual(expect.arrayContaining(["/api/runs", "/api/recordings"]));
  });

  it.each([
    ["+275760", "+275760-09-13T00:00:00.000Z"],
    ["-271821", "-271821-04-20T00:00:00.000Z"],
    ["0000", "0000-01-01T00:00:00.000Z"],
  ])("a list cursor dated %s, on every list", async (_label, iso) => {
    for (const list of lists()) {
      await expectFieldRefused(
        list,
        { method: "GET", params: {}, query: [["cursor", cursorOf(iso)]] },
        "querystring.cursor",
        /is not a cursor returned by this API/,
      );
    }
  });

  it("a list cursor whose id holds a NUL", async () => {
    for (const list of lists()) {
      await expectFieldRefused(
        list,
        { method: "GET", params: {}, query: [["cursor", cursorOf("2026-01-01T00:00:00.000Z", "run_\u0000")]] },
        "querystring.cursor",
        /is not a cursor returned by this API/,
      );
    }
  });

  it("cursors at both ends of the accepted range reach Postgres and answer 200", async () => {
    // Lists under an id (a schedule's fire log) answer 404 for the placeholder id, whatever the cursor.
    for (const list of lists().filter((candidate) => candidate.paramNames.length === 0)) {
      for (const iso of ["1970-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"]) {
        const response = await expectRefusedSafely(list, {
          method: "GET",
          params: {},
          query: [["cursor", cursorOf(iso)]],
        });
        expect(response.statusCode, `${list.url} ${iso}: ${response.body}`).toBe(200);
      }
    }
  });
});

describe("after the corpus", () => {
  it(`sent at least ${MIN_CASES} cases`, () => {
    expect(casesSent).toBeGreaterThanOrEqual(MIN_CASES);
  });

  it("wrote nothing: every table's row count and the queue are unchanged", async () => {
    expect(await tableCounts()).toEqual(before);
  });

  it("logged no error, no query string, and none of the values sent", () => {
    const lines = logLines.slice(linesBefore).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((line) => (line.level as number) >= 50)).toEqual([]);
    for (const line of lines.filter((entry) => entry.msg === "request")) {
      expect(String(line.url)).not.toContain("?");
    }
    const text = logLines.slice(linesBefore).join("\n");
    // JSON escapes of a NUL and of lone surrogates.
    expect(text).not.toMatch(/\\u0000|\\ud[89a-f][0-9a-f]{2}/i);
  });
});

// ---------------------------------------------------------------------------------------------
// The error handler on its own (no guard in front): values the database refuses are a 400, and
// no log line carries the values or the query string.

describe("the error handler, without the input guard", () => {
  const lines: Record<string, unknown>[] = [];
  let app: FastifyInstance;
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase("errlog");
    app = Fastify({
      loggerInstance: pino(
        { level: "info" },
        { write: (line: string) => void lines.push(JSON.parse(line)) },
      ) as FastifyBaseLogger,
      frameworkErrors: handleFrameworkError,
      // As the API: its one access line is its own (app.ts), not Fastify's, which logs the raw URL.
      disableRequestLogging: true,
    });
    registerErrorHandling(app);
    app.get("/t/project", async (request) => {
      const { name } = request.query as { name: string };
      await createProject(db.db, { name });
      return { ok: true };
    });
    app.get("/t/at", async (request) => {
      const { at } = request.query as { at: string };
      return db.query("select $1::timestamptz as at", [at]);
    });
    app.get("/t/boom/:id", async (request) => {
      const { secret } = request.query as { secret: string };
      throw new Error(`cannot handle "${secret}" with 'quotes'`);
    });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it("answers 400 naming the query string for a value Postgres refuses, and logs it at warn without the value", async () => {
    for (const url of ["/t/project?name=stored%00value", "/t/at?at=%2B275760-09-13T00%3A00%3A00.000Z"]) {
      lines.length = 0;
      const response = await app.inject({ method: "GET", url });
      expect(response.statusCode, response.body).toBe(400);
      const { error } = response.json() as { error: { code: string; message: string; details: { fields: unknown[] } } };
      expect(error.code).toBe("validation_failed");
      expect(error.message).toMatch(/^querystring: /);
      expect(error.details.fields).toHaveLength(1);
      const warn = lines.find((line) => line.level === 40);
      expect(warn?.route).toMatch(/^GET \/t\/(project|at)$/);
      const logged = JSON.stringify(lines);
      expect(logged).toMatch(/"code":"22/);
      expect(logged).not.toMatch(/stored|value\\u0000|275760|\?/);
      expect(lines.some((line) => (line.level as number) >= 50)).toBe(false);
    }
    const [row] = await db.query<{ n: number }>("select count(*)::int as n from projects");
    expect(row?.n).toBe(0);
  });

  it("logs a true 500 with its route and type, without the query string or the values its message quotes", async () => {
    lines.length = 0;
    const response = await app.inject({ method: "GET", url: "/t/boom/run_1?secret=hunter2" });
    expect(response.statusCode).toBe(500);
    expect((response.json() as { error: { code: string } }).error.code).toBe("internal_error");
    const errorLine = lines.find((line) => line.level === 50);
    expect(errorLine?.route).toBe("GET /t/boom/:id");
    expect(JSON.stringify(errorLine?.error)).toContain('"type":"Error"');
    expect(JSON.stringify(errorLine?.error)).toContain("cannot handle");
    expect(JSON.stringify(lines)).not.toMatch(/hunter2|secret=|quotes/);
  });
});
