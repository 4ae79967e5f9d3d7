import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Redis } from "ioredis";

/**
 * Browser sessions of the dashboard, server-side in Redis so every API replica sees them and
 * signing out (or an expiry) ends a session everywhere at once.
 *
 * - The cookie holds only a random id (32 bytes); Redis stores it under its SHA-256
 *   (`<prefix>:sessions:<sha256(id)>`), so a copy of Redis yields no usable cookie.
 * - A session of an API key stores the key's hash, never the key or its scopes: every request
 *   resolves the key again (through the same cache as a bearer key), so a revoked, rotated-out or
 *   expired key ends its sessions, and a scope change applies at once.
 * - An operator session stores the SHA-256 of the ADMIN_TOKEN it was opened with: changing
 *   ADMIN_TOKEN ends every operator session.
 * - Expiry slides: each use pushes it `ttlMs` further (GETEX, one round trip).
 * - Each session has its own CSRF token, which non-GET requests authenticated by the cookie must
 *   echo in `X-CSRF-Token` (plugins/auth.ts).
 */

/** Name of the session cookie. */
export const SESSION_COOKIE = "conveyor_session";
/** Header that carries a session's CSRF token on cookie-authenticated writes. */
export const CSRF_HEADER = "x-csrf-token";

export type SessionPrincipal = { kind: "key"; keyHash: string } | { kind: "operator"; adminHash: string };

export type Session = SessionPrincipal & {
  /** Echoed by the client in X-CSRF-Token on writes. */
  csrfToken: string;
  createdAt: string;
};

export function sha256(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

/** Compares two secrets in constant time (over their hashes, so lengths may differ). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/** A cookie value this API could have issued: 43 base64url characters (32 bytes). */
function isSessionIdShaped(value: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(value);
}

export class SessionStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  /** Sliding lifetime of a session, ms. */
  readonly ttlMs: number;

  constructor(redis: Redis, prefix: string, ttlMs: number) {
    this.redis = redis;
    this.prefix = prefix;
    this.ttlMs = ttlMs;
  }

  private key(id: string): string {
    return `${this.prefix}:sessions:${sha256(id)}`;
  }

  /** Opens a session; returns its id (for the cookie only) and the session. */
  async create(principal: SessionPrincipal, now = new Date()): Promise<{ id: string; session: Session }> {
    const id = randomBytes(32).toString("base64url");
    const session: Session = {
      ...principal,
      csrfToken: randomBytes(24).toString("base64url"),
      createdAt: now.toISOString(),
    };
    await this.redis.set(this.key(id), JSON.stringify(session), "PX", this.ttlMs);
    return { id, session };
  }

  /** The live session of `id`, its expiry pushed `ttlMs` further; null when unknown or expired. */
  async touch(id: string): Promise<Session | null> {
    if (!isSessionIdShaped(id)) return null;
    const raw = await this.redis.getex(this.key(id), "PX", this.ttlMs);
    if (raw === null) return null;
    try {
      return JSON.parse(raw) as Session;
    } catch {
      return null;
    }
  }

  /** Ends a session (sign out, or its key was found revoked). */
  async delete(id: string): Promise<void> {
    if (!isSessionIdShaped(id)) return;
    await this.redis.del(this.key(id));
  }
}

/** The value of cookie `name` in a Cookie header, or null. */
export function readCookie(header: string | undefined, name: string): string | null {
  if (!header) return null;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/**
 * The Set-Cookie value of a session: httpOnly (scripts never see it), SameSite=Strict (no other
 * site's page can make the browser send it), Path=/ (the API and the dashboard), Secure over
 * HTTPS. No Max-Age: the browser forgets it when it closes; Redis holds the real expiry.
 */
export function sessionCookie(id: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`;
}

/** A Set-Cookie value that removes the session cookie. */
export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? "; Secure" : ""}`;
}
