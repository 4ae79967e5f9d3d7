/**
 * Projects and API keys. Authentication is the one lookup that is not scoped by project (it is
 * how a request learns its project); everything else in this package takes `projectId`.
 */
import { randomBytes } from "node:crypto";
import { newId, sha256Hex } from "@conveyor/core";
import { and, eq, isNull } from "drizzle-orm";
import type { Db } from "../client.ts";
import { apiKeys, type Project, projects } from "../schema.ts";

const API_KEY_PREFIX = "cvk_";

export function hashApiKey(key: string): string {
  return sha256Hex(key);
}

/** Creates a project with its first API key. The plaintext key is returned here and nowhere else. */
export async function createProject(db: Db, input: { name: string }): Promise<{ project: Project; apiKey: string }> {
  const apiKey = `${API_KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
  return db.transaction(async (tx) => {
    const [project] = await tx
      .insert(projects)
      .values({ id: newId("project"), name: input.name })
      .returning();
    if (!project) throw new Error("insert into projects returned no row");
    await tx.insert(apiKeys).values({
      id: newId("apiKey"),
      projectId: project.id,
      name: "default",
      keyHash: hashApiKey(apiKey),
      keyPrefix: apiKey.slice(0, API_KEY_PREFIX.length + 6),
    });
    return { project, apiKey };
  });
}

/** The project an API key belongs to, or null for an unknown or revoked key. */
export async function authenticateApiKey(db: Db, apiKey: string): Promise<{ projectId: string; keyId: string } | null> {
  if (!isApiKeyShaped(apiKey)) return null;
  return findActiveApiKey(db, hashApiKey(apiKey));
}

/** Whether a string has the shape of an API key (worth hashing and looking up). */
export function isApiKeyShaped(value: string): boolean {
  return value.startsWith(API_KEY_PREFIX);
}

/** The project of the unrevoked key whose hash is `keyHash` (`hashApiKey`), or null. */
export async function findActiveApiKey(db: Db, keyHash: string): Promise<{ projectId: string; keyId: string } | null> {
  const [row] = await db
    .select({ projectId: apiKeys.projectId, keyId: apiKeys.id })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)))
    .limit(1);
  return row ?? null;
}

export async function getProject(db: Db, projectId: string): Promise<Project | null> {
  const [row] = await db.select().from(projects).where(eq(projects.id, projectId)).limit(1);
  return row ?? null;
}

/** Changes what an operator may set on a project (PATCH /api/projects/:id); null when there is no such project. */
export async function updateProject(
  db: Db,
  projectId: string,
  changes: { egressAllow?: string[] },
): Promise<Project | null> {
  if (changes.egressAllow === undefined) return getProject(db, projectId);
  const [row] = await db
    .update(projects)
    .set({ egressAllow: changes.egressAllow })
    .where(eq(projects.id, projectId))
    .returning();
  return row ?? null;
}

/** The project's own egress allowlist (empty for an unknown project: it opens nothing). */
export async function getProjectEgressAllow(db: Db, projectId: string): Promise<string[]> {
  const [row] = await db
    .select({ egressAllow: projects.egressAllow })
    .from(projects)
    .where(eq(projects.id, projectId))
    .limit(1);
  return row?.egressAllow ?? [];
}
