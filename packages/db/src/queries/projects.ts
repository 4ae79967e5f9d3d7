/**
 * Projects and API keys. Authentication is the one lookup that is not scoped by project (it is
 * how a request learns its project); everything else in this package takes `projectId`.
 */
import { newId } from "@conveyor/core";
import { eq } from "drizzle-orm";
import type { Db } from "../client.ts";
import { type Project, type ProjectLimitsRow, projectRunCounts, projects } from "../schema.ts";
import { findApiKeyByHash, firstApiKey, hashApiKey, insertApiKey, isApiKeyShaped } from "./keys.ts";

/** Creates a project with its first API key (every scope). The secret is returned here and nowhere else. */
export async function createProject(db: Db, input: { name: string }): Promise<{ project: Project; apiKey: string }> {
  return db.transaction(async (tx) => {
    const [project] = await tx
      .insert(projects)
      .values({ id: newId("project"), name: input.name })
      .returning();
    if (!project) throw new Error("insert into projects returned no row");
    // Its counts row exists from the start: admission locks it (see CREATE_RUNS_SQL).
    await tx.insert(projectRunCounts).values({ projectId: project.id });
    const { secret } = await insertApiKey(tx, project.id, firstApiKey());
    return { project, apiKey: secret };
  });
}

/** The project of a usable key (not revoked, not expired), or null. */
export async function authenticateApiKey(
  db: Db,
  apiKey: string,
  now: Date = new Date(),
): Promise<{ projectId: string; keyId: string } | null> {
  if (!isApiKeyShaped(apiKey)) return null;
  const key = await findApiKeyByHash(db, hashApiKey(apiKey));
  if (!key || key.revokedAt || (key.expiresAt && key.expiresAt <= now)) return null;
  return { projectId: key.projectId, keyId: key.keyId };
}

export async function getProject(db: Db, projectId: string): Promise<Project | null> {
  const [row] = await db.select().from(projects).where(eq(projects.id, projectId)).limit(1);
  return row ?? null;
}

/** Changes what an operator may set on a project (PATCH /api/projects/:id); null when there is no such project. */
export async function updateProject(
  db: Db,
  projectId: string,
  changes: { egressAllow?: string[]; limits?: ProjectLimitsRow; allowExpressions?: boolean },
): Promise<Project | null> {
  if (changes.egressAllow === undefined && changes.limits === undefined && changes.allowExpressions === undefined) {
    return getProject(db, projectId);
  }
  const [row] = await db
    .update(projects)
    .set({
      ...(changes.egressAllow === undefined ? {} : { egressAllow: changes.egressAllow }),
      ...(changes.limits === undefined ? {} : { limits: changes.limits }),
      ...(changes.allowExpressions === undefined ? {} : { allowExpressions: changes.allowExpressions }),
    })
    .where(eq(projects.id, projectId))
    .returning();
  return row ?? null;
}

/** The project's own limits (empty for an unknown project: the defaults apply). */
export async function getProjectLimits(db: Db, projectId: string): Promise<ProjectLimitsRow> {
  const [row] = await db.select({ limits: projects.limits }).from(projects).where(eq(projects.id, projectId)).limit(1);
  return row?.limits ?? {};
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

/**
 * Whether the project's recordings may run their own JavaScript in the page (waitForExpression);
 * false for an unknown project. Read per run, so a change applies to the next run.
 */
export async function getProjectAllowExpressions(db: Db, projectId: string): Promise<boolean> {
  const [row] = await db
    .select({ allowExpressions: projects.allowExpressions })
    .from(projects)
    .where(eq(projects.id, projectId))
    .limit(1);
  return row?.allowExpressions ?? false;
}
