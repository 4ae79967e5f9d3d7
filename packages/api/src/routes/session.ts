import { API_SCOPES } from "@conveyor/core";
import { type DbHandle, getProject } from "@conveyor/db";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { AuthControl, SessionIdentity } from "../plugins/auth.ts";
import { sendError } from "../plugins/errors.ts";
import { CSRF_HEADER, clearedSessionCookie, type Session, sameSecret, sessionCookie } from "../plugins/sessions.ts";
import { errorResponses } from "../views.ts";

/**
 * The dashboard's sign-in: `POST /api/session` trades an API key (or the admin token) for a
 * session cookie, `GET /api/session` says whose session it is, `DELETE /api/session` signs out.
 * The routes are public to the auth hook and check credentials themselves (plugins/auth.ts
 * `verifyCredentials`, `currentSession`): wrong credentials are throttled as on the bearer path.
 */

const secret = z.string().min(1).max(512);

export const createSessionBody = z
  .object({
    /** A project's API key (`cvk_…`): a session of that key, with its scopes. */
    apiKey: secret.optional(),
    /** ADMIN_TOKEN: an operator session (the fleet pages, the admin routes). */
    adminToken: secret.optional(),
  })
  .strict()
  .superRefine((body, ctx) => {
    if (body.apiKey === undefined && body.adminToken === undefined) {
      ctx.addIssue({ code: "custom", path: ["apiKey"], message: "is required (or adminToken)" });
    } else if (body.apiKey !== undefined && body.adminToken !== undefined) {
      ctx.addIssue({ code: "custom", path: ["adminToken"], message: "send either apiKey or adminToken, not both" });
    }
  });

export const sessionResponse = z.object({
  kind: z.enum(["project", "operator"]).describe("`project`: signed in with an API key; `operator`: the admin token"),
  project: z.object({ id: z.string(), name: z.string() }).nullable(),
  keyId: z.string().nullable().describe("The API key the session was opened with"),
  scopes: z.array(z.enum(API_SCOPES)).describe("The key's scopes now (empty for an operator)"),
  csrfToken: z.string().describe("Send it as `X-CSRF-Token` on every write authenticated by the cookie"),
  createdAt: z.string(),
  expiresAt: z.string().describe("When the session ends if unused; every request pushes it further"),
});

async function sessionView(db: DbHandle, identity: SessionIdentity, ttlMs: number) {
  const base = {
    csrfToken: identity.session.csrfToken,
    createdAt: identity.session.createdAt,
    expiresAt: new Date(Date.now() + ttlMs).toISOString(),
  };
  if (identity.kind === "operator")
    return { kind: "operator" as const, project: null, keyId: null, scopes: [], ...base };
  const project = await getProject(db.db, identity.key.projectId);
  return {
    kind: "project" as const,
    project: { id: identity.key.projectId, name: project?.name ?? "" },
    keyId: identity.key.keyId,
    scopes: identity.key.scopes,
    ...base,
  };
}

/** HTTPS as the client sees it: the connection, or X-Forwarded-Proto under TRUST_PROXY. */
function isSecure(request: FastifyRequest): boolean {
  return request.protocol === "https";
}

function refuseWithoutCsrf(request: FastifyRequest, reply: FastifyReply, session: Session): boolean {
  const sent = request.headers[CSRF_HEADER];
  if (typeof sent === "string" && sameSecret(sent, session.csrfToken)) return false;
  sendError(reply, request, "forbidden", "Signing out needs the session's CSRF token in X-CSRF-Token", {
    header: CSRF_HEADER,
  });
  return true;
}

export function registerSessionRoutes(app: FastifyInstance, deps: { db: DbHandle; auth: AuthControl }): void {
  const { sessions } = deps.auth;
  const typed = app.withTypeProvider<ZodTypeProvider>();
  typed.post(
    "/api/session",
    {
      config: { auth: "public" },
      schema: {
        summary: "Sign in to the dashboard: an API key or the admin token for a session cookie",
        description:
          "Sets an httpOnly, SameSite=Strict session cookie (Secure over HTTPS) and answers who is signed in, with the CSRF token that writes authenticated by the cookie must send as `X-CSRF-Token`. A wrong key or token answers 401 and counts towards the failed-authentication throttle.",
        tags: ["session"],
        security: [],
        body: createSessionBody,
        response: { 201: sessionResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const verified = await deps.auth.verifyCredentials(
        request,
        reply,
        request.body.apiKey !== undefined
          ? { apiKey: request.body.apiKey }
          : { adminToken: request.body.adminToken ?? "" },
      );
      if (verified === null) return reply;
      const { id, session } = await sessions.create(
        verified.principal === "operator"
          ? { kind: "operator", adminHash: verified.hash }
          : { kind: "key", keyHash: verified.hash },
      );
      const identity: SessionIdentity =
        verified.key === null ? { kind: "operator", session } : { kind: "project", key: verified.key, session };
      reply.header("set-cookie", sessionCookie(id, isSecure(request)));
      reply.header("cache-control", "no-store");
      return reply.code(201).send(await sessionView(deps.db, identity, sessions.ttlMs));
    },
  );

  typed.get(
    "/api/session",
    {
      config: { auth: "public" },
      schema: {
        summary: "Who is signed in (the session cookie's project and scopes, or the operator)",
        description: "401 without a live session: the dashboard shows its sign-in page.",
        tags: ["session"],
        security: [],
        response: { 200: sessionResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const identity = await deps.auth.currentSession(request, reply);
      if (identity === null) return reply;
      reply.header("cache-control", "no-store");
      return sessionView(deps.db, identity, sessions.ttlMs);
    },
  );

  typed.delete(
    "/api/session",
    {
      config: { auth: "public" },
      schema: {
        summary: "Sign out: ends the session and clears its cookie",
        description:
          "204 whether or not a session was open. A live session needs its CSRF token in `X-CSRF-Token` (403 otherwise).",
        tags: ["session"],
        security: [],
        response: { 204: z.null().describe("Signed out"), ...errorResponses },
      },
    },
    async (request, reply) => {
      const found = await deps.auth.findSession(request);
      if (found !== null) {
        if (refuseWithoutCsrf(request, reply, found.session)) return reply;
        await sessions.delete(found.id);
      }
      reply.header("set-cookie", clearedSessionCookie(isSecure(request)));
      return reply.code(204).send(null);
    },
  );
}
