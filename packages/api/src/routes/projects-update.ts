import { ApiError, type EgressPolicy } from "@conveyor/core";
import { type DbHandle, getProject, updateProject } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { validateProjectAllow } from "../egress-check.ts";
import { projectView } from "../views.ts";
import { idParams, isWellFormed } from "./common.ts";

export const updateProjectBody = z.strictObject({
  /** What the project's recordings may reach beyond the operator's policy (only inside EGRESS_PROJECT_MAX). */
  egress: z
    .strictObject({
      /** Replaces the project's allowlist: `host`, `host:port`, `*.domain`, `CIDR` or `CIDR:port` entries. */
      allow: z.array(z.string().min(1).max(300)).max(100),
    })
    .optional(),
});

export const projectResponse = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  egress: z.object({ allow: z.array(z.string()) }),
});

function notFound(id: string): ApiError {
  return new ApiError("not_found", `No project ${id}`);
}

/** GET and PATCH /api/projects/:id: operator routes (ADMIN_TOKEN). */
export function registerProjectRoutes(app: FastifyInstance, deps: { db: DbHandle; egressPolicy: EgressPolicy }): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  typed.get(
    "/api/projects/:id",
    {
      config: { auth: "admin" },
      schema: {
        summary: "A project's settings (operator)",
        tags: ["projects"],
        security: [{ adminToken: [] }],
        params: idParams("project"),
        response: { 200: projectResponse },
      },
    },
    async (request) => {
      const { id } = request.params;
      const project = isWellFormed("project", id) ? await getProject(deps.db.db, id) : null;
      if (!project) throw notFound(id);
      return projectView(project);
    },
  );
  typed.patch(
    "/api/projects/:id",
    {
      config: { auth: "admin" },
      schema: {
        summary: "Change a project's settings (operator): its egress allowlist",
        tags: ["projects"],
        security: [{ adminToken: [] }],
        params: idParams("project"),
        body: updateProjectBody,
        response: { 200: projectResponse },
      },
    },
    async (request) => {
      const { id } = request.params;
      const allow = request.body.egress?.allow;
      const egressAllow =
        allow === undefined ? undefined : validateProjectAllow(allow, deps.egressPolicy, "body.egress.allow");
      const project = isWellFormed("project", id)
        ? await updateProject(deps.db.db, id, egressAllow === undefined ? {} : { egressAllow })
        : null;
      if (!project) throw notFound(id);
      request.log.info({ projectId: id, egressAllow: project.egressAllow }, "project settings changed");
      return projectView(project);
    },
  );
}
