/**
 * What an API key may do. A route names the one scope it needs; a key without it gets
 * `403 forbidden` naming the scope. The key made with a project has them all, and a key can only
 * make keys with scopes it has itself.
 */
export const API_SCOPES = [
  "runs:read",
  "runs:write",
  "recordings:read",
  "recordings:write",
  "keys:read",
  "keys:write",
] as const;
export type ApiScope = (typeof API_SCOPES)[number];

export function isApiScope(value: string): value is ApiScope {
  return (API_SCOPES as readonly string[]).includes(value);
}
