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
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "invalid_json", message: () => "Request body is not valid JSON" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "invalid_json", message: () => "Request body is empty; send a JSON object" },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "payload_too_large", message: (e) => e.message },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: "unsupported_media_type",
    message: () => "Unsupported Content-Type; send application/json",
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: "bad_request", message: (e) => e.message },
};

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
      return sendError(reply, request, "invalid_json", "Request body is not valid JSON");
    }
    if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
      return sendError(reply, request, error.statusCode === 413 ? "payload_too_large" : "bad_request", error.message);
    }
    request.log.error({ err: error }, "request failed");
    return sendError(reply, request, "internal_error", "Internal error; the request id identifies it in the logs");
  });

  app.setNotFoundHandler((request, reply) =>
    sendError(reply, request, "not_found", `No route ${request.method} ${request.url.split("?")[0]}`),
  );
}
