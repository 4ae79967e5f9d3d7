import type { ApiScope, Logger } from "@conveyor/core";
import { type ApiKeyRecord, type DbHandle, findApiKeyByHash, hashApiKey, isApiKeyShaped } from "@conveyor/db";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Redis } from "ioredis";
import { ApiKeyCache } from "./api-key-cache.ts";
import { AuthInvalidation } from "./auth-invalidation.ts";
import { AuthThrottle } from "./auth-throttle.ts";
import { sendError } from "./errors.ts";
import { KeyUsage } from "./key-usage.ts";
import { CSRF_HEADER, readCookie, SESSION_COOKIE, type Session, SessionStore, sameSecret, sha256 } from "./sessions.ts";

/**
 * Authorization, decided per route by `config.auth` and `config.scope`:
 * - "project" (the default, so a new route is never public by accident): `Authorization: Bearer
 *   <apiKey>`, or the dashboard's session cookie of a key; the request carries the key's project
 *   (every query filters by it) and scopes. A route's `config.scope` names the scope it needs; a
 *   key without it gets `403 forbidden`.
 * - "admin": `Authorization: Bearer <ADMIN_TOKEN>`, or an operator's session cookie (projects;
 *   detailed health unless HEALTH_PUBLIC).
 * - "metrics": `Authorization: Bearer <METRICS_TOKEN>`; without METRICS_TOKEN, open only when
 *   METRICS_PUBLIC, else refused.
 * - "public": no credentials (liveness, readiness, docs).
 *
 * Wrong credentials are counted per client address (AuthThrottle): slowed, then refused for a
 * while. A request with a key this replica already trusts skips both the database and Redis.
 *
 * Sessions (sessions.ts): a request with a bearer token never looks at cookies. Without one, the
 * session cookie stands in for the credential it was opened with, re-checked on every request (a
 * revoked key ends its sessions), and a write (any method but GET, HEAD, OPTIONS) must also carry
 * the session's CSRF token in `X-CSRF-Token` (`403 forbidden` naming the header otherwise). An
 * unknown or expired session id is refused with 401 but not counted as a failed attempt: it is
 * 256 random bits, not something to guess, and counting stale cookies would lock out everyone
 * behind one address whose sessions expired overnight.
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
    /** Set when the request was authenticated by a session cookie. */
    session: Session | null;
  }
}

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
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
  /** SESSION_TTL_MS: a dashboard session ends after this long unused, ms. Default 43200000 (12 h). */
  sessionTtlMs?: number;
}

/** Who a session belongs to, as GET /api/session tells it. */
export type SessionIdentity =
  | { kind: "project"; key: ApiKeyRecord; session: Session }
  | { kind: "operator"; session: Session };

/** What the key routes need of authentication: forgetting keys everywhere. */
export interface AuthControl {
  /** Makes every replica forget a key now (revoked, rotated). */
  forgetKey(keyHash: string): Promise<void>;
  /** Makes every replica forget what it remembers of a project (its settings changed). */
  forgetProject(projectId: string): Promise<void>;
  /** Subscribes to what other replicas forget. */
  onProjectForgotten(listener: (projectId: string) => void): void;
  /** The dashboard's sessions. */
  sessions: SessionStore;
  /**
   * Checks an API key or the admin token as the bearer path would (throttle included): the
   * principal of a new session, or null once the refusal was sent.
   */
  verifyCredentials(
    request: FastifyRequest,
    reply: FastifyReply,
    credentials: { apiKey: string } | { adminToken: string },
  ): Promise<{ principal: SessionIdentity["kind"]; key: ApiKeyRecord | null; hash: string } | null>;
  /** The live session the request's cookie names (its expiry pushed further), or null. */
  findSession(request: FastifyRequest): Promise<{ id: string; session: Session } | null>;
  /** The request's live session and whose it is; null once the refusal (401) was sent. */
  currentSession(request: FastifyRequest, reply: FastifyReply): Promise<SessionIdentity | null>;
}

export async function registerAuth(app: FastifyInstance, deps: AuthDeps): Promise<AuthControl> {
  app.decorateRequest("projectId", "");
  app.decorateRequest("apiKey", null);
  app.decorateRequest("session", null);
  const sessions = new SessionStore(deps.redis, deps.prefix, deps.sessionTtlMs ?? 12 * 3_600_000);
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

  /**
   * The usable key of `keyHash` (known, not revoked, not expired); null once the refusal was sent.
   * A key this replica trusts right now skips Redis and the database: the common case stays cheap.
   */
  const resolveKey = async (
    request: FastifyRequest,
    reply: FastifyReply,
    keyHash: string | null,
  ): Promise<ApiKeyRecord | null> => {
    let key: ApiKeyRecord | null = keyHash === null ? null : (keys.peek(keyHash) ?? null);
    if (key === null) {
      if (await refuseLockedOut(request, reply)) return null;
      key = keyHash === null ? null : await keys.get(keyHash, () => findApiKeyByHash(deps.db.db, keyHash));
      if (key === null) {
        await refuse(request, reply, "unauthorized", "Invalid API key");
        return null;
      }
    }
    if (key.revokedAt !== null) {
      await refuse(request, reply, "key_revoked", "This API key was revoked");
      return null;
    }
    if (key.expiresAt !== null && key.expiresAt.getTime() <= Date.now()) {
      await refuse(request, reply, "key_expired", `This API key expired at ${key.expiresAt.toISOString()}`);
      return null;
    }
    return key;
  };

  /** The session the request's cookie names, or null (no cookie, unknown or expired id). */
  const sessionOf = async (request: FastifyRequest): Promise<{ id: string; session: Session } | null> => {
    const id = readCookie(request.headers.cookie, SESSION_COOKIE);
    if (id === null) return null;
    const session = await sessions.touch(id);
    return session === null ? null : { id, session };
  };

  const refuseNoSession = (request: FastifyRequest, reply: FastifyReply) =>
    sendError(reply, request, "unauthorized", "Your session expired or was signed out: sign in again");

  /**
   * Resolves a live session to its identity; null once the refusal was sent. A session whose key
   * was revoked or expired, or whose ADMIN_TOKEN changed, is ended here.
   */
  const identify = async (
    request: FastifyRequest,
    reply: FastifyReply,
    found: { id: string; session: Session },
  ): Promise<SessionIdentity | null> => {
    const { session } = found;
    if (session.kind === "operator") {
      if (deps.adminToken === undefined || session.adminHash !== sha256(deps.adminToken)) {
        await sessions.delete(found.id);
        refuseNoSession(request, reply);
        return null;
      }
      return { kind: "operator", session };
    }
    const key = await resolveKey(request, reply, session.keyHash);
    if (key === null) {
      await sessions.delete(found.id);
      return null;
    }
    return { kind: "project", key, session };
  };

  /** A cookie-authenticated write must echo the session's CSRF token; true when it was refused. */
  const refuseWithoutCsrf = (request: FastifyRequest, reply: FastifyReply, session: Session): boolean => {
    if (request.method === "GET" || request.method === "HEAD" || request.method === "OPTIONS") return false;
    const sent = request.headers[CSRF_HEADER];
    if (typeof sent === "string" && sameSecret(sent, session.csrfToken)) return false;
    sendError(
      reply,
      request,
      "forbidden",
      "A request authenticated by the session cookie that changes something must send the session's CSRF token in X-CSRF-Token (from POST or GET /api/session)",
      { header: CSRF_HEADER },
    );
    return true;
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
    // Without a bearer token, the session cookie (if any) stands in for one.
    const found = token === null ? await sessionOf(request) : null;
    if (token === null && readCookie(request.headers.cookie, SESSION_COOKIE) !== null && found === null) {
      return refuseNoSession(request, reply);
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
      if (found !== null) {
        if (found.session.kind !== "operator") {
          return sendError(
            reply,
            request,
            "unauthorized",
            "This route is for the operator: sign in with the admin token, or send 'Authorization: Bearer <ADMIN_TOKEN>'",
          );
        }
        const identity = await identify(request, reply, found);
        if (identity === null || refuseWithoutCsrf(request, reply, found.session)) return;
        request.session = found.session;
        return;
      }
      if (await refuseLockedOut(request, reply)) return;
      if (!token || !sameSecret(token, deps.adminToken)) {
        return refuse(request, reply, "unauthorized", "Send the admin token as 'Authorization: Bearer <ADMIN_TOKEN>'");
      }
      return;
    }
    let key: ApiKeyRecord | null;
    if (found !== null) {
      if (found.session.kind === "operator") {
        return sendError(
          reply,
          request,
          "forbidden",
          "An operator session has no project: sign in with one of the project's API keys",
        );
      }
      const identity = await identify(request, reply, found);
      if (identity === null || identity.kind !== "project") return;
      if (refuseWithoutCsrf(request, reply, found.session)) return;
      key = identity.key;
      request.session = found.session;
    } else {
      if (!token) {
        return sendError(reply, request, "unauthorized", "Missing API key: send 'Authorization: Bearer <apiKey>'");
      }
      key = await resolveKey(request, reply, isApiKeyShaped(token) ? hashApiKey(token) : null);
      if (key === null) return;
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
    sessions,
    verifyCredentials: async (request, reply, credentials) => {
      if ("adminToken" in credentials) {
        if (!deps.adminToken) {
          sendError(
            reply,
            request,
            "forbidden",
            "Operator sign-in is disabled: set ADMIN_TOKEN on the API to enable it",
          );
          return null;
        }
        if (await refuseLockedOut(request, reply)) return null;
        if (!sameSecret(credentials.adminToken, deps.adminToken)) {
          await refuse(request, reply, "unauthorized", "Wrong admin token");
          return null;
        }
        return { principal: "operator", key: null, hash: sha256(deps.adminToken) };
      }
      const keyHash = isApiKeyShaped(credentials.apiKey) ? hashApiKey(credentials.apiKey) : null;
      const key = await resolveKey(request, reply, keyHash);
      if (key === null || keyHash === null) return null;
      usage.record(key.keyId);
      return { principal: "project", key, hash: keyHash };
    },
    findSession: sessionOf,
    currentSession: async (request, reply) => {
      const found = await sessionOf(request);
      if (found === null) {
        refuseNoSession(request, reply);
        return null;
      }
      return identify(request, reply, found);
    },
  };
}
