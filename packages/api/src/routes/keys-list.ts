import { type DbHandle, listApiKeys } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { apiKeyView, errorResponses, pageResponse } from "../views.ts";
import { paginationQuery, parseCursor } from "./common.ts";
import { apiKeyResponse } from "./keys-common.ts";

export const listKeysQuery = z.object(paginationQuery);

export function registerListKeys(app: FastifyInstance, deps: { db: DbHandle }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/keys",
    {
      config: { scope: "keys:read" },
      schema: {
        summary: "List this project's API keys, newest first (never their secrets)",
        tags: ["keys"],
        querystring: listKeysQuery,
        response: { 200: pageResponse(apiKeyResponse), ...errorResponses },
      },
    },
    async (request) => {
      const page = await listApiKeys(deps.db.db, request.projectId, {
        limit: request.query.limit,
        cursor: parseCursor(request.query.cursor),
      });
      const now = new Date();
      return { items: page.items.map((key) => apiKeyView(key, now)), nextCursor: page.nextCursor };
    },
  );
}
