import { ApiError } from "@conveyor/core";
import { type DbHandle, revokeApiKey } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { AuthControl } from "../plugins/auth.ts";
import { errorResponses, noContent } from "../views.ts";
import { idParams, isWellFormed } from "./common.ts";

export function registerRevokeKey(app: FastifyInstance, deps: { db: DbHandle; auth: AuthControl }): void {
  app.withTypeProvider<ZodTypeProvider>().delete(
    "/api/keys/:id",
    {
      config: { scope: "keys:write" },
      schema: {
        summary: "Revoke an API key: refused on every API replica at once (idempotent)",
        tags: ["keys"],
        params: idParams("apiKey"),
        response: { 204: noContent("Revoked"), ...errorResponses },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const key = isWellFormed("apiKey", id) ? await revokeApiKey(deps.db.db, request.projectId, id) : null;
      if (!key) throw new ApiError("not_found", `No API key ${id} in this project`);
      await deps.auth.forgetKey(key.keyHash);
      request.log.info({ keyId: key.id }, "API key revoked");
      return reply.code(204).send();
    },
  );
}
