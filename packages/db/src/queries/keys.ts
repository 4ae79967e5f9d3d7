/**
 * API keys: made, listed, rotated and revoked per project (every function takes `projectId`),
 * except the lookup by hash, which is how a request learns its project. A key's secret exists only
 * in the answer that creates it: the table keeps its SHA-256 and its first characters.
 */
import { randomBytes } from "node:crypto";
import { API_SCOPES, type ApiScope, newId, sha256Hex } from "@conveyor/core";
import { and, desc, eq, sql } from "drizzle-orm";
import type { Db } from "../client.ts";
import { type ApiKey, apiKeys } from "../schema.ts";
import { beforeCursor, type Page, toPage } from "./pagination.ts";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export const API_KEY_PREFIX = "cvk_";

export function hashApiKey(key: string): string {
  return sha256Hex(key);
}

/** Whether a string has the shape of an API key (worth hashing and looking up). */
export function isApiKeyShaped(value: string): boolean {
  return value.startsWith(API_KEY_PREFIX) && value.length <= 128;
}

/** A new secret: the prefix and 256 random bits. */
function newSecret(): string {
  return `${API_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
}

export interface NewApiKey {
  name: string;
  scopes: readonly ApiScope[];
  expiresAt?: Date | null;
}

/** Inserts a key; the secret is returned here and nowhere else. */
export async function insertApiKey(
  db: Db | Tx,
  projectId: string,
  input: NewApiKey,
  id: string = newId("apiKey"),
): Promise<{ key: ApiKey; secret: string }> {
  const secret = newSecret();
  const [key] = await db
    .insert(apiKeys)
    .values({
      id,
      projectId,
      name: input.name,
      keyHash: hashApiKey(secret),
      keyPrefix: secret.slice(0, API_KEY_PREFIX.length + 6),
      scopes: [...input.scopes],
      expiresAt: input.expiresAt ?? null,
    })
    .returning();
  if (!key) throw new Error("insert into api_keys returned no row");
  return { key, secret };
}

/** The key made with a project: every scope, no expiry. */
export function firstApiKey(): NewApiKey {
  return { name: "default", scopes: API_SCOPES };
}

/** What authentication needs of a key, looked up by its hash; revoked and expired keys included. */
export interface ApiKeyRecord {
  projectId: string;
  keyId: string;
  scopes: ApiScope[];
  expiresAt: Date | null;
  revokedAt: Date | null;
}

/** The key whose hash is `keyHash`, or null when there is none. Not scoped by project: it finds the project. */
export async function findApiKeyByHash(db: Db, keyHash: string): Promise<ApiKeyRecord | null> {
  const [row] = await db
    .select({
      projectId: apiKeys.projectId,
      keyId: apiKeys.id,
      scopes: apiKeys.scopes,
      expiresAt: apiKeys.expiresAt,
      revokedAt: apiKeys.revokedAt,
    })
    .from(apiKeys)
    .where(eq(apiKeys.keyHash, keyHash))
    .limit(1);
  return row ?? null;
}

export async function getApiKey(db: Db, projectId: string, keyId: string): Promise<ApiKey | null> {
  const [row] = await db
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.projectId, projectId), eq(apiKeys.id, keyId)))
    .limit(1);
  return row ?? null;
}

/** A project's keys, newest first (revoked ones too: the list is also the audit of what existed). */
export async function listApiKeys(
  db: Db,
  projectId: string,
  options: { limit: number; cursor?: { createdAt: Date; id: string } | undefined },
): Promise<Page<ApiKey>> {
  const rows = await db
    .select()
    .from(apiKeys)
    .where(
      and(
        eq(apiKeys.projectId, projectId),
        options.cursor ? beforeCursor(apiKeys.createdAt, apiKeys.id, options.cursor) : undefined,
      ),
    )
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.id))
    .limit(options.limit + 1);
  return toPage(rows, options.limit);
}

/** Revokes a key (idempotent: a revoked key stays revoked at its first time). Null: no such key here. */
export async function revokeApiKey(db: Db, projectId: string, keyId: string): Promise<ApiKey | null> {
  const [row] = await db
    .update(apiKeys)
    .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, now())` })
    .where(and(eq(apiKeys.projectId, projectId), eq(apiKeys.id, keyId)))
    .returning();
  return row ?? null;
}

/**
 * Replaces a key with a new one of the same name, scopes and expiry; the old one keeps working
 * until `graceEndsAt` (or its own earlier expiry), then is refused as expired. Null when there is
 * no such key here; `revoked` when it was revoked (a revoked key cannot be rotated back to life).
 */
export async function rotateApiKey(
  db: Db,
  projectId: string,
  keyId: string,
  graceEndsAt: Date,
): Promise<{ key: ApiKey; secret: string; previous: ApiKey } | "revoked" | null> {
  return db.transaction(async (tx) => {
    const [old] = await tx
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.projectId, projectId), eq(apiKeys.id, keyId)))
      .for("update")
      .limit(1);
    if (!old) return null;
    if (old.revokedAt) return "revoked";
    const created = await insertApiKey(tx, projectId, { name: old.name, scopes: old.scopes, expiresAt: old.expiresAt });
    const expiresAt = old.expiresAt && old.expiresAt < graceEndsAt ? old.expiresAt : graceEndsAt;
    const [previous] = await tx
      .update(apiKeys)
      .set({ expiresAt, replacedBy: created.key.id })
      .where(eq(apiKeys.id, old.id))
      .returning();
    if (!previous) throw new Error("rotated key vanished");
    return { ...created, previous };
  });
}

/**
 * Writes when keys were last used, many keys in one statement (the API batches uses in memory, so
 * a busy key costs one write every few seconds, not one per request). Never moves a time back.
 */
export async function recordApiKeyUse(db: Db, uses: readonly { keyId: string; usedAt: Date }[]): Promise<void> {
  if (uses.length === 0) return;
  const rows = JSON.stringify(uses.map((use) => ({ id: use.keyId, at: use.usedAt.toISOString() })));
  await db.execute(sql`
    update api_keys set last_used_at = u.at
      from jsonb_to_recordset(${rows}::jsonb) as u(id text, at timestamptz)
     where api_keys.id = u.id and (api_keys.last_used_at is null or api_keys.last_used_at < u.at)`);
}
