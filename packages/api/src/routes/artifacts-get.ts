import { type ArtifactStore, InvalidArtifactKeyError } from "@conveyor/artifacts";
import type { DbHandle } from "@conveyor/db";
import { getRun } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses } from "../views.ts";
import { isWellFormed, notFound } from "./common.ts";

export const artifactParams = z.object({ id: z.string().min(1).max(64), "*": z.string().min(1).max(512) });

/** What a browser may show in a tab: raster images, which run no script (never SVG or HTML). */
const INLINE_MEDIA_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/**
 * `inline` for a screenshot; `attachment` for everything else (a run's video, its trace zip, and
 * any type a store might report), so the browser saves it instead of rendering it on the API's
 * origin. The file name is the key's last segment, in the characters artifact keys allow.
 */
export function artifactContentDisposition(path: string, contentType: string): string {
  const mediaType = (contentType.split(";")[0] ?? "").trim().toLowerCase();
  const filename = (path.split("/").pop() ?? "").replace(/[^A-Za-z0-9._-]/g, "_") || "artifact";
  return `${INLINE_MEDIA_TYPES.has(mediaType) ? "inline" : "attachment"}; filename="${filename}"`;
}

export function registerGetArtifact(app: FastifyInstance, deps: { db: DbHandle; artifacts: ArtifactStore }): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/runs/:id/artifacts/*",
    {
      config: { scope: "runs:read" },
      schema: {
        summary: "A file a run produced (screenshot, video, trace)",
        tags: ["runs"],
        params: artifactParams,
        response: {
          200: z.unknown().describe("The file itself, with its Content-Type (not JSON)"),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const path = request.params["*"];
      const run = isWellFormed("run", id) ? await getRun(deps.db.db, request.projectId, id) : null;
      if (!run) throw notFound("run", id);
      let artifact: Awaited<ReturnType<ArtifactStore["get"]>> = null;
      try {
        artifact = await deps.artifacts.get(`${id}/${path}`);
      } catch (error) {
        // An invalid key (e.g. "..") is simply not an artifact of this run; a store that cannot
        // answer (S3 unreachable, wrong bucket) is a 500, never a misleading 404.
        if (!(error instanceof InvalidArtifactKeyError)) throw error;
        artifact = null;
      }
      if (!artifact) throw notFound("run", `${id} artifact ${path}`);
      return reply
        .type(artifact.contentType)
        .header("cache-control", "private, max-age=3600")
        .header("x-content-type-options", "nosniff")
        .header("content-disposition", artifactContentDisposition(path, artifact.contentType))
        .send(artifact.body);
    },
  );
}
