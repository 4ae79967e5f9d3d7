import { createHash, timingSafeEqual } from "node:crypto";
import type { ApiScope, Logger } from "@conveyor/core";
import { type ApiKeyRecord, type DbHandle, findApiKeyByHash, hashApiKey, isApiKeyShaped } from "@conveyor/db";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import { ApiKeyCache } from "./api-key-cache.ts";
import { AuthInvalidation } from "./auth-invalidation.ts";
import { AuthThrottle } from "./auth-throttle.ts";
import { sendError } from "./errors.ts";
import { KeyUsage } from "./key-usage.ts";

/**
 * Authorization, decided per route by `config.auth` and `config.scope`:
 * - "project" (the default, so a new route is never public by accident): `Authorization: Bearer
 *   <apiKey>`; the request carries the key's project (every query filters by it) and scopes. A
 *   route's `config.scope` names the scope it needs; a key without it gets `403 forbidden`.
 * - "admin": `Authorization: Bearer <ADMIN_TOKEN>` (projects; detailed health unless HEALTH_PUBLIC).
 * - "metrics": `Authorization: Bearer <METRICS_TOKEN>`; without METRICS_TOKEN, open only when
 *   METRICS_PUBLIC, else refused.
 * - "public": no credentials (liveness, readiness, docs).
 *
 * Wrong credentials are counted per client address (AuthThrottle): slowed, then refused for a
 * while. A request with a key this replica already trusts skips both the database and Redis.
 */
export type AuthMode = "project" | "admin" | "metrics" | "public";

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: AuthMode;
    /** The scope a "project" route needs. Default: none beyond a valid key. */
    scope?: ApiScope;
  }
  interface FastifyRequest {
    /** Set on "project" routes: the project the API key belongs to. */
    projectId: string;
    /** Set on "project" routes: the key that authenticated the request. */
    apiKey: ApiKeyRecord | null;
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
  redis: Redis;
  /** Redis key prefix (QUEUE_PREFIX): failed-attempt counters and the invalidation channel. */
  prefix: string;
  logger: Logger;
  /** ADMIN_TOKEN; undefined disables "admin" routes (403). */
  adminToken: string | undefined;
  /** METRICS_TOKEN; undefined leaves "metrics" routes to `metricsPublic`. Default: undefined. */
  metricsToken?: string | undefined;
  /** METRICS_PUBLIC: serve "metrics" routes without a token when METRICS_TOKEN is unset. Default false. */
  metricsPublic?: boolean;
  /**
   * API_KEY_CACHE_TTL_MS: how long this process trusts a successful API-key lookup, ms. Revocation
   * reaches every replica at once through Redis; the TTL bounds a lost message. 0 looks every
   * request up. Default 0.
   */
  apiKeyCacheTtlMs?: number;
  /** Failed authentication: limit per window, the window and the lockout, ms. */
  throttle?: { limit: number; windowMs: number; lockoutMs: number };
  /** How often key use is written (lastUsedAt), ms. Default 10000. */
  keyUsageFlushMs?: number;
}

/** What the key routes need of authentication: forgetting keys everywhere. */
export interface AuthControl {
  /** Makes every replica forget a key now (revoked, rotated). */
  forgetKey(keyHash: string): Promise<void>;
  /** Makes every replica forget what it remembers of a project (its settings changed). */
  forgetProject(projectId: string): Promise<void>;
  /** Subscribes to what other replicas forget. */
  onProjectForgotten(listener: (projectId: string) => void): void;
}

export async function registerAuth(app: FastifyInstance, deps: AuthDeps): Promise<AuthControl> {
  app.decorateRequest("projectId", "");
  app.decorateRequest("apiKey", null);
  const keys = new ApiKeyCache(deps.apiKeyCacheTtlMs ?? 0);
  const throttleSettings = deps.throttle ?? { limit: 20, windowMs: 60_000, lockoutMs: 300_000 };
  const throttle = new AuthThrottle({
    redis: deps.redis,
    prefix: deps.prefix,
    logger: deps.logger,
    ...throttleSettings,
  });
  const usage = new KeyUsage(deps.db.db, deps.logger, deps.keyUsageFlushMs);
  const projectListeners: ((projectId: string) => void)[] = [];
  const invalidation = new AuthInvalidation(deps.redis, deps.prefix, deps.logger, {
    key: (hash) => keys.forget(hash),
    project: (projectId) => {
      keys.forgetProject(projectId);
      for (const listener of projectListeners) listener(projectId);
    },
  });
  await invalidation.start();
  usage.start();
  app.addHook("onClose", async () => {
    invalidation.close();
    await usage.close();
  });

  /** Refuses a request whose address is locked out; true when it was refused. */
  const refuseLockedOut = async (request: FastifyRequest, reply: FastifyReply): Promise<boolean> => {
    const lockedMs = await throttle.lockedFor(request.ip);
    if (lockedMs === 0) return false;
    reply.header("retry-after", Math.ceil(lockedMs / 1000));
    sendError(
      reply,
      request,
      "auth_throttled",
      `Too many failed authentication attempts from this address; try again in ${Math.ceil(lockedMs / 1000)} s`,
    );
    return true;
  };
  /** Counts a failed attempt, then answers it (429 once the address is locked out). */
  const refuse = async (
    request: FastifyRequest,
    reply: FastifyReply,
    code: "unauthorized" | "key_expired" | "key_revoked",
    message: string,
  ) => {
    const lockedMs = await throttle.fail(request.ip);
    if (lockedMs > 0) {
      reply.header("retry-after", Math.ceil(lockedMs / 1000));
      return sendError(reply, request, "auth_throttled", "Too many failed authentication attempts from this address");
    }
    return sendError(reply, request, code, message);
  };

  app.addHook("onRequest", async (request, reply) => {
    const mode: AuthMode = request.routeOptions.config?.auth ?? "project";
    if (mode === "public" || !request.routeOptions.url) return;
    const token = bearer(request);
    if (mode === "metrics") {
      if (!deps.metricsToken) {
        if (deps.metricsPublic) return;
        return sendError(
          reply,
          request,
          "forbidden",
          "Metrics are disabled: set METRICS_TOKEN (and send it as 'Authorization: Bearer <METRICS_TOKEN>'), or METRICS_PUBLIC=true",
        );
      }
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
      if (await refuseLockedOut(request, reply)) return;
      if (!token || !sameSecret(token, deps.adminToken)) {
        return refuse(request, reply, "unauthorized", "Send the admin token as 'Authorization: Bearer <ADMIN_TOKEN>'");
      }
      return;
    }
    if (!token) {
      return sendError(reply, request, "unauthorized", "Missing API key: send 'Authorization: Bearer <apiKey>'");
    }
    const keyHash = isApiKeyShaped(token) ? hashApiKey(token) : null;
    // A key this replica trusts right now skips Redis and the database: the common case stays cheap.
    let key: ApiKeyRecord | null = keyHash === null ? null : (keys.peek(keyHash) ?? null);
    if (key === null) {
      if (await refuseLockedOut(request, reply)) return;
      key = keyHash === null ? null : await keys.get(keyHash, () => findApiKeyByHash(deps.db.db, keyHash));
      if (key === null) return refuse(request, reply, "unauthorized", "Invalid API key");
    }
    if (key.revokedAt !== null) return refuse(request, reply, "key_revoked", "This API key was revoked");
    if (key.expiresAt !== null && key.expiresAt.getTime() <= Date.now()) {
      return refuse(request, reply, "key_expired", `This API key expired at ${key.expiresAt.toISOString()}`);
    }
    const scope = request.routeOptions.config?.scope;
    if (scope !== undefined && !key.scopes.includes(scope)) {
      return sendError(
        reply,
        request,
        "forbidden",
        `This API key lacks the scope ${scope} (it has: ${key.scopes.join(", ") || "none"})`,
        { scope, scopes: key.scopes },
      );
    }
    request.projectId = key.projectId;
    request.apiKey = key;
    usage.record(key.keyId);
  });

  return {
    forgetKey: (keyHash) => invalidation.key(keyHash),
    forgetProject: (projectId) => invalidation.project(projectId),
    onProjectForgotten: (listener) => {
      projectListeners.push(listener);
    },
  };
}
