import { ApiError } from "@conveyor/core";
import { type DbHandle, liftQuarantine, quarantineRecording } from "@conveyor/db";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { errorResponses, recordingResponse, recordingView } from "../views.ts";
import { idParams, isWellFormed, notFound } from "./common.ts";

/** Longest a quarantine may last, ms (30 days): it must be looked at again. */
export const QUARANTINE_MAX_MS = 30 * 86_400_000;

export const quarantineBody = z.strictObject({
  /** Why: shown with the recording. */
  reason: z.string().trim().min(1).max(500),
  /** When it lifts by itself: in the future, at most 30 days away. */
  expiresAt: z.iso.datetime({ offset: true }),
});

export function registerQuarantineRoutes(app: FastifyInstance, deps: { db: DbHandle }): void {
  const typed = app.withTypeProvider<ZodTypeProvider>();
  typed.post(
    "/api/recordings/:id/quarantine",
    {
      config: { scope: "recordings:write" },
      schema: {
        summary:
          "Quarantine a recording until expiresAt (at most 30 days): it still runs, but its failures fail no suite run and alert no one",
        tags: ["recordings"],
        params: idParams("recording"),
        body: quarantineBody,
        response: { 200: recordingResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const now = new Date();
      const until = new Date(request.body.expiresAt);
      const inMs = until.getTime() - now.getTime();
      if (!(inMs > 0 && inMs <= QUARANTINE_MAX_MS)) {
        const message = "must be in the future, and at most 30 days away";
        throw new ApiError("validation_failed", `body.expiresAt: ${message}`, {
          fields: [{ field: "body.expiresAt", message }],
        });
      }
      const row = isWellFormed("recording", id)
        ? await quarantineRecording(deps.db.db, request.projectId, id, { reason: request.body.reason, until, now })
        : null;
      if (!row) throw notFound("recording", id);
      request.log.info({ recordingId: id, until: until.toISOString() }, "recording quarantined");
      return recordingView(row, now);
    },
  );
  typed.delete(
    "/api/recordings/:id/quarantine",
    {
      config: { scope: "recordings:write" },
      schema: {
        summary: "Lift a recording's quarantine now (it lifts by itself at its expiresAt)",
        tags: ["recordings"],
        params: idParams("recording"),
        response: { 200: recordingResponse, ...errorResponses },
      },
    },
    async (request) => {
      const { id } = request.params;
      const row = isWellFormed("recording", id) ? await liftQuarantine(deps.db.db, request.projectId, id) : null;
      if (!row) throw notFound("recording", id);
      return recordingView(row);
    },
  );
}
