import { ApiError, ID_PREFIXES, type IdKind, isId } from "@conveyor/core";
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

/**
 * A query parameter naming something by id: an id of another kind (or garbage) is a 400 naming the
 * parameter, not an empty list that looks like "nothing matches".
 */
export function idQuery(kind: IdKind, what: string) {
  const example = `${ID_PREFIXES[kind]}_…`;
  // No length check of its own: an id has exactly one length, and a second message would repeat the first.
  return z
    .string()
    .refine((id) => isId(kind, id), { message: `expected a ${what} id (${example})` })
    .describe(`A ${what} id (${example})`);
}

/** A well-formed id of another kind (or garbage) can't exist: answer 404 without a query. */
export function isWellFormed(kind: IdKind, id: string): boolean {
  return isId(kind, id);
}

/** CI metadata a run or suite run carries (all optional, shown and filtered on, never fetched). */
export const ciMetadataInput = z
  .strictObject({
    commit: z.string().min(1).max(200).optional(),
    branch: z.string().min(1).max(255).optional(),
    buildId: z.string().min(1).max(200).optional(),
    url: z
      .url({ protocol: /^https?$/, message: "an http(s) URL" })
      .max(2048)
      .optional(),
  })
  .describe("Where the run comes from in CI: { commit, branch, buildId, url }");

/** Query parameters that filter runs or suite runs by their CI metadata (exact match each). */
export const ciQuery = {
  ciCommit: z.string().min(1).max(200).optional(),
  ciBranch: z.string().min(1).max(255).optional(),
  ciBuildId: z.string().min(1).max(200).optional(),
};

/** The CI filter of a query that has {@link ciQuery}'s fields; undefined when none is given. */
export function ciFilter(query: { ciCommit?: string; ciBranch?: string; ciBuildId?: string }) {
  const ci = {
    ...(query.ciCommit === undefined ? {} : { commit: query.ciCommit }),
    ...(query.ciBranch === undefined ? {} : { branch: query.ciBranch }),
    ...(query.ciBuildId === undefined ? {} : { buildId: query.ciBuildId }),
  };
  return Object.keys(ci).length > 0 ? ci : undefined;
}

/** A recording tag: letters, digits and `._:-`, compared in lower case. */
export const tagInput = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/,
    "a tag is 1-64 letters, digits and . _ : - (starting with a letter or digit)",
  )
  .transform((tag) => tag.toLowerCase());

/** A list of tags, stored lower case, without duplicates, sorted. */
export const tagsInput = z
  .array(tagInput)
  .max(32)
  .transform((tags) => [...new Set(tags)].sort());

const variableName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, "variable names are letters, digits and _");
const variableValue = z.string().max(65_536);

/** Values for `${NAME}` placeholders in recordings (POST /api/runs, suites). */
export const variablesInput = z.record(variableName, variableValue);

/** New defaults of a recording's variables (PATCH /api/recordings/:id): null removes one. */
export const variableDefaultsInput = z.record(variableName, variableValue.nullable());

export function notFound(kind: "run" | "recording" | "suite" | "suite run" | "schedule", id: string): ApiError {
  return new ApiError("not_found", `No ${kind} ${id} in this project`);
}
