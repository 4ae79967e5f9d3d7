import { ApiError, type EgressPolicy, PRIORITY_MAX, PRIORITY_MIN } from "@conveyor/core";
import { type DbHandle, getProject, type ProjectLimitsRow, updateProject } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { validateProjectAllow } from "../egress-check.ts";
import type { AuthControl } from "../plugins/auth.ts";
import { errorResponses, projectView } from "../views.ts";
import { idParams, isWellFormed } from "./common.ts";

/** A project's own admission limits; `null` (or leaving a field out of `limits`) takes the API's default. */
export const projectLimitsSchema = z.strictObject({
  /** Runs it may have queued at once (0: no limit). */
  maxQueuedRuns: z.number().int().min(0).max(10_000_000).nullable().optional(),
  /** Runs it may have executing at once, across every worker (0: no limit). */
  maxConcurrentRuns: z.number().int().min(0).max(100_000).nullable().optional(),
  /** The most urgent priority its runs may ask for (1–10; 1 allows every priority). */
  maxPriority: z.number().int().min(PRIORITY_MIN).max(PRIORITY_MAX).nullable().optional(),
  /** Largest recording it may submit, bytes of JSON. */
  maxRecordingBytes: z
    .number()
    .int()
    .min(1024)
    .max(100 * 1024 * 1024)
    .nullable()
    .optional(),
});

export const updateProjectBody = z.strictObject({
  /** Replaces the project's own limits (fields left out or null take the defaults). */
  limits: projectLimitsSchema.optional(),
  /** What the project's recordings may reach beyond the operator's policy (only inside EGRESS_PROJECT_MAX). */
  egress: z
    .strictObject({
      /** Replaces the project's allowlist: `host`, `host:port`, `*.domain`, `CIDR` or `CIDR:port` entries. */
      allow: z.array(z.string().min(1).max(300)).max(100),
    })
    .optional(),
  /**
   * Whether the project's recordings may run their own JavaScript in the page they test
   * (waitForExpression steps of Chrome DevTools Recorder exports). Default false: such recordings
   * are refused with 403.
   */
  allowExpressions: z.boolean().optional(),
});

export const projectResponse = z.object({
  id: z.string(),
  name: z.string(),
  createdAt: z.string(),
  updatedAt: z.string(),
  egress: z.object({ allow: z.array(z.string()) }),
  allowExpressions: z
    .boolean()
    .describe("Recordings may run their own JavaScript in the page (waitForExpression); off by default"),
  limits: z
    .object({
      maxQueuedRuns: z.number().optional(),
      maxConcurrentRuns: z.number().optional(),
      maxPriority: z.number().optional(),
      maxRecordingBytes: z.number().optional(),
    })
    .describe("The project's own limits; a limit not listed takes the API's (or workers') default"),
});

function notFound(id: string): ApiError {
  return new ApiError("not_found", `No project ${id}`);
}

/** GET and PATCH /api/projects/:id: operator routes (ADMIN_TOKEN). */
export function registerProjectRoutes(
  app: FastifyInstance,
  deps: { db: DbHandle; egressPolicy: EgressPolicy; auth: AuthControl },
): void {
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
        response: { 200: projectResponse, ...errorResponses },
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
        summary:
          "Change a project's settings (operator): its egress allowlist, its limits, whether its recordings may run JavaScript",
        tags: ["projects"],
        security: [{ adminToken: [] }],
        params: idParams("project"),
        body: updateProjectBody,
        response: { 200: projectResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const allow = request.body.egress?.allow;
      const egressAllow =
        allow === undefined ? undefined : validateProjectAllow(allow, deps.egressPolicy, "body.egress.allow");
      const limits = request.body.limits === undefined ? undefined : ownLimits(request.body.limits);
      const { allowExpressions } = request.body;
      const project = isWellFormed("project", id)
        ? await updateProject(deps.db.db, id, {
            ...(egressAllow === undefined ? {} : { egressAllow }),
            ...(limits === undefined ? {} : { limits }),
            ...(allowExpressions === undefined ? {} : { allowExpressions }),
          })
        : null;
      if (!project) throw notFound(id);
      // Every API replica re-reads the project's limits on its next request.
      await deps.auth.forgetProject(id);
      request.log.info(
        {
          projectId: id,
          egressAllow: project.egressAllow,
          limits: project.limits,
          allowExpressions: project.allowExpressions,
        },
        "project settings changed",
      );
      return projectView(project);
    },
  );
}

/** The limits to store: those given as numbers (null and absent fields take the defaults). */
function ownLimits(limits: z.infer<typeof projectLimitsSchema>): ProjectLimitsRow {
  const own: ProjectLimitsRow = {};
  for (const [name, value] of Object.entries(limits) as [keyof ProjectLimitsRow, number | null | undefined][]) {
    if (typeof value === "number") own[name] = value;
  }
  return own;
}
