import { API_SCOPES, ApiError } from "@conveyor/core";
import { type DbHandle, insertApiKey } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { apiKeyView, errorResponses } from "../views.ts";
import { apiKeyResponse, assertScopesWithin } from "./keys-common.ts";

export const createKeyBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  /** What the key may do; default: every scope the calling key has. */
  scopes: z.array(z.enum(API_SCOPES)).min(1).max(API_SCOPES.length).optional(),
  /** When the key stops working (ISO 8601, in the future). Default: never. */
  expiresAt: z.iso.datetime({ offset: true }).optional(),
});

export const createKeyResponse = z.object({
  key: apiKeyResponse,
  secret: z.string().describe("Shown once; store it now. Only a hash is kept."),
});

/** Longest a key may be made to live, ms (ten years): beyond, `expiresAt` is a mistake. */
const MAX_LIFETIME_MS = 10 * 365 * 24 * 3600 * 1000;

export function registerCreateKey(app: FastifyInstance, deps: { db: DbHandle }): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/api/keys",
    {
      config: { scope: "keys:write" },
      schema: {
        summary: "Create an API key for this project; the secret is shown once",
        tags: ["keys"],
        body: createKeyBody,
        response: { 201: createKeyResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const held = request.apiKey?.scopes ?? [];
      const scopes = [...new Set(request.body.scopes ?? held)];
      assertScopesWithin(scopes, held, "body.scopes");
      let expiresAt: Date | null = null;
      if (request.body.expiresAt !== undefined) {
        expiresAt = new Date(request.body.expiresAt);
        const inMs = expiresAt.getTime() - Date.now();
        if (!(inMs > 0 && inMs <= MAX_LIFETIME_MS)) {
          throw new ApiError("validation_failed", "body.expiresAt: must be in the future, and at most ten years away", {
            fields: [{ field: "body.expiresAt", message: "must be in the future, and at most ten years away" }],
          });
        }
      }
      const { key, secret } = await insertApiKey(deps.db.db, request.projectId, {
        name: request.body.name,
        scopes,
        expiresAt,
      });
      request.log.info({ keyId: key.id, scopes }, "API key created");
      return reply
        .code(201)
        .header("location", `/api/keys/${key.id}`)
        .send({ key: apiKeyView(key), secret });
    },
  );
}
