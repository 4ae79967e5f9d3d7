import { ApiError, type IdKind, isId } from "@conveyor/core";
import { decodeCursor } from "@conveyor/db";
import { z } from "zod";

export const paginationQuery = {
  /** Page size. Default 20, at most 100. */
  limit: z.coerce.number().int().min(1).max(100).default(20),
  /** `nextCursor` of the previous page. */
  cursor: z.string().max(512).optional(),
};

export function parseCursor(cursor: string | undefined) {
  if (cursor === undefined) return undefined;
  const decoded = decodeCursor(cursor);
  if (!decoded)
    throw new ApiError("validation_failed", "querystring.cursor: is not a cursor returned by this API", {
      fields: [{ field: "querystring.cursor", message: "is not a cursor returned by this API" }],
    });
  return decoded;
}

export function idParams(kind: IdKind) {
  return z.object({ id: z.string().min(1).max(64) }).describe(`${kind} id`);
}

/** A well-formed id of another kind (or garbage) can't exist: answer 404 without a query. */
export function isWellFormed(kind: IdKind, id: string): boolean {
  return isId(kind, id);
}

export function notFound(kind: "run" | "recording", id: string): ApiError {
  return new ApiError("not_found", `No ${kind} ${id} in this project`);
}
