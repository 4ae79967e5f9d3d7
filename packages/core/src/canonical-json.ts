/**
 * JSON with object keys sorted at every level: two requests that differ only in key order have
 * the same canonical form (and so the same Idempotency-Key hash). Same output as
 * `JSON.stringify` of the value with its keys sorted (undefined and functions dropped from
 * objects and written as null in arrays, `toJSON` honoured), written in one pass: it runs on every
 * `POST /api/runs` that carries an Idempotency-Key.
 */
export function canonicalJson(value: unknown): string {
  return write(value) ?? "null";
}

function write(value: unknown): string | undefined {
  if (value === null || typeof value !== "object") return JSON.stringify(value);
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
    return write((value as { toJSON: () => unknown }).toJSON());
  }
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += `${i ? "," : ""}${write(value[i]) ?? "null"}`;
    return `${out}]`;
  }
  let out = "{";
  let first = true;
  for (const key of Object.keys(value).sort()) {
    const item = write((value as Record<string, unknown>)[key]);
    if (item === undefined) continue;
    out += `${first ? "" : ","}${JSON.stringify(key)}:${item}`;
    first = false;
  }
  return `${out}}`;
}
