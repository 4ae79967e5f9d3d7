import { createHash, timingSafeEqual } from "node:crypto";
import { type DbHandle, findActiveApiKey, hashApiKey, isApiKeyShaped } from "@conveyor/db";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ApiKeyCache } from "./api-key-cache.ts";
import { sendError } from "./errors.ts";

/**
 * Authorization, decided per route by `config.auth`:
 * - "project" (the default, so a new route is never public by accident): `Authorization: Bearer
 *   <apiKey>`; the request carries the key's `projectId`, which every query then filters by.
 * - "admin": `Authorization: Bearer <ADMIN_TOKEN>` (project creation; detailed health unless
 *   HEALTH_PUBLIC).
 * - "metrics": `Authorization: Bearer <METRICS_TOKEN>`, or nothing when METRICS_TOKEN is unset.
 * - "public": no credentials (liveness, readiness, docs).
 */
export type AuthMode = "project" | "admin" | "metrics" | "public";

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: AuthMode;
  }
  interface FastifyRequest {
    /** Set on "project" routes: the project the API key belongs to. */
    projectId: string;
  }
}

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

function sameSecret(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb);
}

export interface AuthDeps {
  db: DbHandle;
  /** ADMIN_TOKEN; undefined disables "admin" routes (403). */
  adminToken: string | undefined;
  /** METRICS_TOKEN; undefined makes "metrics" routes public. Default: undefined. */
  metricsToken?: string | undefined;
  /**
   * API_KEY_CACHE_TTL_MS: how long this process trusts a successful API-key lookup, ms; a revoked
   * key keeps working here for at most this long. 0 looks every request up. Default 0.
   */
  apiKeyCacheTtlMs?: number;
}

export function registerAuth(app: FastifyInstance, deps: AuthDeps): void {
  app.decorateRequest("projectId", "");
  const keys = new ApiKeyCache(deps.apiKeyCacheTtlMs ?? 0);
  app.addHook("onRequest", async (request, reply) => {
    const mode: AuthMode = request.routeOptions.config?.auth ?? "project";
    if (mode === "public" || !request.routeOptions.url) return;
    const token = bearer(request);
    if (mode === "metrics") {
      if (!deps.metricsToken) return;
      if (!token || !sameSecret(token, deps.metricsToken)) {
        return sendError(
          reply,
          request,
          "unauthorized",
          "Send the metrics token as 'Authorization: Bearer <METRICS_TOKEN>'",
        );
      }
      return;
    }
    if (mode === "admin") {
      if (!deps.adminToken) {
        return sendError(
          reply,
          request,
          "forbidden",
          `${request.method} ${request.routeOptions.url} is disabled: set ADMIN_TOKEN on the API to enable it`,
        );
      }
      if (!token || !sameSecret(token, deps.adminToken)) {
        return sendError(
          reply,
          request,
          "unauthorized",
          "Send the admin token as 'Authorization: Bearer <ADMIN_TOKEN>'",
        );
      }
      return;
    }
    if (!token) {
      return sendError(reply, request, "unauthorized", "Missing API key: send 'Authorization: Bearer <apiKey>'");
    }
    let key: { projectId: string } | null = null;
    if (isApiKeyShaped(token)) {
      const keyHash = hashApiKey(token);
      key = await keys.get(keyHash, () => findActiveApiKey(deps.db.db, keyHash));
    }
    if (!key) return sendError(reply, request, "unauthorized", "Invalid or revoked API key");
    request.projectId = key.projectId;
  });
}
