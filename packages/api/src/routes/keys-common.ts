import { API_SCOPES, ApiError, type ApiScope } from "@conveyor/core";
import { z } from "zod";

export const apiKeyResponse = z.object({
  id: z.string(),
  name: z.string(),
  prefix: z.string().describe("The first characters of the key, to tell keys apart"),
  scopes: z.array(z.enum(API_SCOPES)),
  status: z.enum(["active", "expired", "revoked"]),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable().describe("Written every few seconds, not per request"),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  replacedBy: z.string().nullable().describe("The key that replaced this one by rotation"),
});

/** Refuses to hand out scopes the calling key does not have itself (403 naming them). */
export function assertScopesWithin(wanted: readonly ApiScope[], held: readonly ApiScope[], field: string): void {
  const missing = wanted.filter((scope) => !held.includes(scope));
  if (missing.length > 0) {
    throw new ApiError("forbidden", `${field}: a key cannot give scopes it lacks itself (${missing.join(", ")})`, {
      scope: missing[0],
      scopes: held,
      fields: [{ field, message: `lacks ${missing.join(", ")}` }],
    });
  }
}
