import { ApiError } from "@conveyor/core";
import { type DbHandle, getApiKey, rotateApiKey } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AuthControl } from "../plugins/auth.ts";
import { apiKeyView, errorResponses } from "../views.ts";
import { idParams, isWellFormed } from "./common.ts";
import { apiKeyResponse, assertScopesWithin } from "./keys-common.ts";

/** Longest grace period of a rotation: 7 days, in seconds. */
export const MAX_ROTATION_GRACE_S = 7 * 24 * 3600;

export const rotateKeyBody = z
  .strictObject({
    /** How long the old key keeps working, seconds (0 to 7 days). Default 86400 (a day). */
    gracePeriodSeconds: z.number().int().min(0).max(MAX_ROTATION_GRACE_S).default(86_400),
  })
  .default({ gracePeriodSeconds: 86_400 });

export function registerRotateKey(app: FastifyInstance, deps: { db: DbHandle; auth: AuthControl }): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/api/keys/:id/rotate",
    {
      config: { scope: "keys:write" },
      schema: {
        summary: "Replace an API key: a new secret, shown once; the old key keeps working for the grace period",
        tags: ["keys"],
        params: idParams("apiKey"),
        body: rotateKeyBody,
        response: {
          201: z.object({
            key: apiKeyResponse,
            secret: z.string().describe("Shown once; store it now."),
            previous: apiKeyResponse,
          }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const existing = isWellFormed("apiKey", id) ? await getApiKey(deps.db.db, request.projectId, id) : null;
      if (!existing) throw new ApiError("not_found", `No API key ${id} in this project`);
      assertScopesWithin(existing.scopes, request.apiKey?.scopes ?? [], "id");
      const graceEndsAt = new Date(Date.now() + (request.body?.gracePeriodSeconds ?? 86_400) * 1000);
      const rotated = await rotateApiKey(deps.db.db, request.projectId, id, graceEndsAt);
      if (rotated === null) throw new ApiError("not_found", `No API key ${id} in this project`);
      if (rotated === "revoked") throw new ApiError("conflict", `API key ${id} is revoked; create a new key instead`);
      // Replicas that trust the old key must learn its new expiry now.
      await deps.auth.forgetKey(rotated.previous.keyHash);
      request.log.info({ keyId: rotated.key.id, previousKeyId: id }, "API key rotated");
      return reply
        .code(201)
        .header("location", `/api/keys/${rotated.key.id}`)
        .send({ key: apiKeyView(rotated.key), secret: rotated.secret, previous: apiKeyView(rotated.previous) });
    },
  );
}
