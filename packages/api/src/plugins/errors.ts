import { API_ERROR_STATUS, ApiError, type ApiErrorCode } from "@conveyor/core";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/**
 * One error envelope for every failure: `{ error: { code, message, details?, requestId } }`.
 * Validation errors name the field (`body.recording.actions[2].type`); nothing a client sends
 * can produce a 500.
 */

interface ValidationItem {
  instancePath?: string;
  message?: string;
}

/** `/recording/actions/2/type` → `recording.actions[2].type` */
export function fieldPath(context: string | undefined, instancePath: string | undefined): string {
  const parts = (instancePath ?? "").split("/").filter(Boolean);
  let out = context ?? "";
  for (const part of parts) {
    if (/^\d+$/.test(part)) out += `[${part}]`;
    else out += out ? `.${part}` : part;
  }
  return out || "body";
}

function humanMessage(message: string | undefined): string {
  if (!message) return "is invalid";
  if (/received undefined/.test(message)) return "is required";
  return message.replace(/^Invalid input: /, "");
}

export function sendError(
  reply: FastifyReply,
  request: FastifyRequest,
  code: ApiErrorCode,
  message: string,
  details?: unknown,
) {
  return reply
    .code(API_ERROR_STATUS[code])
    .type("application/json")
    .send({ error: { code, message, ...(details === undefined ? {} : { details }), requestId: request.id } });
}

// Fastify's own client errors, by code.
const FASTIFY_CLIENT_ERRORS: Record<string, { code: ApiErrorCode; message: (e: FastifyError) => string }> = {
  // secure-json-parse also refuses `__proto__` and `constructor.prototype` keys (prototype pollution).
  FST_ERR_CTP_INVALID_JSON_BODY: {
    code: "invalid_json",
    message: () => "body: is not valid JSON, or holds a __proto__ or constructor.prototype key",
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "invalid_json", message: () => "body: is empty; send a JSON object" },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "payload_too_large", message: (e) => e.message },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: "unsupported_media_type",
    message: () => "Unsupported Content-Type; send application/json",
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: "bad_request", message: (e) => e.message },
};

/**
 * Fastify's `frameworkErrors` option: errors the router raises before any route (and so any error
 * handler) is chosen — a path that is not valid percent-encoded UTF-8, a path parameter longer
 * than `maxParamLength` — answered in the one envelope instead of Fastify's own body.
 */
export function handleFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const message =
    error.code === "FST_ERR_MAX_PARAM_LENGTH"
      ? "a path parameter is too long"
      : error.code === "FST_ERR_BAD_URL"
        ? "the path is not valid percent-encoded UTF-8"
        : undefined;
  if (message === undefined) {
    request.log.error({ error: describeErrorForLog(error) }, "request failed before routing");
    return sendError(reply, request, "internal_error", "Internal error; the request id identifies it in the logs");
  }
  return sendError(reply, request, "validation_failed", `params: ${message}`, {
    fields: [{ field: "params", message }],
  });
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError & { validationContext?: string }, request, reply) => {
    if (error instanceof ApiError) {
      return sendError(reply, request, error.code, error.message, error.details);
    }
    if (Array.isArray(error.validation)) {
      const fields = (error.validation as ValidationItem[]).map((item) => ({
        field: fieldPath(error.validationContext, item.instancePath),
        message: humanMessage(item.message),
      }));
      const first = fields[0];
      const summary = first ? `${first.field}: ${first.message}` : "Request is invalid";
      const more = fields.length > 1 ? ` (and ${fields.length - 1} more)` : "";
      return sendError(reply, request, "validation_failed", `${summary}${more}`, { fields });
    }
    const known = error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined;
    if (known) return sendError(reply, request, known.code, known.message(error));
    if (error instanceof SyntaxError && error.message.includes("JSON")) {
      return sendError(reply, request, "invalid_json", "body: is not valid JSON");
    }
    if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
      return sendError(reply, request, error.statusCode === 413 ? "payload_too_large" : "bad_request", error.message);
    }
    // Neither the raw URL (its query string) nor the error's values (a driver error quotes them,
    // drizzle's lists the query's parameters) go to the log: only the route and a redacted error.
    const route = `${request.method} ${request.routeOptions.url ?? "(no route)"}`;
    const sqlState = sqlStateOf(error);
    if (sqlState !== undefined && isInputDataError(sqlState)) {
      request.log.warn(
        { route, error: describeErrorForLog(error) },
        "request refused: the database cannot store a value",
      );
      const part = request.body != null ? "body" : "querystring";
      const field = { field: part, message: "holds a value the database cannot store" };
      return sendError(reply, request, "validation_failed", `${field.field}: ${field.message}`, { fields: [field] });
    }
    request.log.error({ route, error: describeErrorForLog(error) }, "request failed");
    return sendError(reply, request, "internal_error", "Internal error; the request id identifies it in the logs");
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, request, "not_found", `No route ${request.method} ${request.url.split("?")[0]}`),
  );
}

/** Causes followed when looking for a driver error, at most: a chain is short, a cycle is not. */
const MAX_CAUSES = 8;

function causes(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let at = error; at !== null && at !== undefined && chain.length < MAX_CAUSES; ) {
    chain.push(at);
    const next = typeof at === "object" ? (at as { cause?: unknown }).cause : undefined;
    if (next === at) break;
    at = next;
  }
  return chain;
}

/** The SQLSTATE of a Postgres error (postgres.js sets `code`), looking through wrappers such as drizzle's `cause`. */
export function sqlStateOf(error: unknown): string | undefined {
  for (const link of causes(error)) {
    const code = typeof link === "object" && link !== null ? (link as { code?: unknown }).code : undefined;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) && /^[0-9]{2}/.test(code)) return code;
  }
  return undefined;
}

/**
 * Whether Postgres refused a value the request carried: class 22 (data exception — NUL in text
 * or jsonb, bad encoding, a date or number out of range), a CHECK constraint (23514), or a value
 * too large for an index (54000). Those are the client's to fix: 400, not 500.
 */
export function isInputDataError(sqlState: string): boolean {
  return sqlState.startsWith("22") || sqlState === "23514" || sqlState === "54000";
}

/** Longest error message logged, characters. */
const MAX_LOGGED_MESSAGE = 500;

/** Replaces everything from the first to the last `quote` (an unclosed one: to the end) with `…`. */
function redactQuoted(text: string, quote: string): string {
  const first = text.indexOf(quote);
  if (first < 0) return text;
  const last = text.lastIndexOf(quote);
  if (last === first) return `${text.slice(0, first + 1)}…`;
  return `${text.slice(0, first + 1)}…${text.slice(last)}`;
}

/**
 * An error message without the values it quotes: Postgres quotes the value it refused
 * (`invalid input syntax for type integer: "abc"`), drizzle appends the query's parameters.
 * Greedy (first to last quote), so a value holding a quote cannot leak its tail.
 */
export function redactErrorMessage(message: string): string {
  let text = message;
  const params = text.indexOf("\nparams:");
  if (params >= 0) text = text.slice(0, params);
  // A failed query's SQL is ours (values are parameters); its double quotes are identifiers.
  if (!text.startsWith("Failed query:")) text = redactQuoted(text, '"');
  text = redactQuoted(redactQuoted(text, "'"), "`").replace(/0x[0-9a-f]{2}(?:\s+0x[0-9a-f]{2})*/gi, "0x…");
  return text.length > MAX_LOGGED_MESSAGE ? `${text.slice(0, MAX_LOGGED_MESSAGE)}…` : text;
}

/** What a log line may hold of an error: its type, code, redacted message and stack frames, and those of its causes. */
export function describeErrorForLog(error: unknown): Record<string, unknown>[] {
  return causes(error).map((link) => {
    if (!(link instanceof Error)) return { type: typeof link };
    const code = (link as { code?: unknown }).code;
    // Frames only, taken after the message (the stack starts by repeating it).
    const stack = link.stack ?? "";
    const afterMessage = stack.indexOf(link.message);
    const frames = afterMessage >= 0 ? stack.slice(afterMessage + link.message.length) : stack;
    return {
      type: link.constructor.name || link.name,
      ...(typeof code === "string" || typeof code === "number" ? { code } : {}),
      message: redactErrorMessage(link.message),
      stack: frames
        .split("\n")
        .filter((line) => /^\s+at /.test(line))
        .slice(0, 20)
        .join("\n"),
    };
  });
}
