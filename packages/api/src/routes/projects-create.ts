import { createProject, type DbHandle } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses } from "../views.ts";

export const createProjectBody = z.object({ name: z.string().trim().min(1).max(200) });

export const createProjectResponse = z.object({
  project: z.object({ id: z.string(), name: z.string(), createdAt: z.string() }),
  apiKey: z.string().describe("Shown once; store it now. Only a hash is kept."),
});

export function registerCreateProject(app: FastifyInstance, deps: { db: DbHandle }): void {
  app.withTypeProvider<ZodTypeProvider>().post(
    "/api/projects",
    {
      config: { auth: "admin" },
      schema: {
        summary: "Create a project and its first API key",
        tags: ["projects"],
        security: [{ adminToken: [] }],
        body: createProjectBody,
        response: { 201: createProjectResponse, ...errorResponses },
      },
    },
    async (request, reply) => {
      const { project, apiKey } = await createProject(deps.db.db, { name: request.body.name });
      return reply.code(201).send({
        project: { id: project.id, name: project.name, createdAt: project.createdAt.toISOString() },
        apiKey,
      });
    },
  );
}
