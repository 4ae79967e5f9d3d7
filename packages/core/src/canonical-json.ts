/**
 * JSON with object keys sorted at every level: two requests that differ only in key order have
 * the same canonical form (and so the same Idempotency-Key hash). Otherwise the same as
 * `JSON.stringify` (`toJSON` is honoured, so a Date becomes its ISO string).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return sortKeys(toJSON.call(value));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}
