import { unzipSync } from "fflate";

/**
 * The forms a value can take in a stored trace, as a leak search looks for them: raw,
 * JSON-escaped, URL-encoded (encodeURIComponent, encodeURI), form-encoded (URLSearchParams, a
 * space as "+"), HTML-escaped (named, `&#39;`, `&#x27;`, and every special character as a decimal
 * reference), base64 and base64url.
 */
export function secretEncodings(secret: string): string[] {
  const html = (apostrophe: string) =>
    secret
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, apostrophe);
  const forms = [
    secret,
    JSON.stringify(secret).slice(1, -1),
    encodeURIComponent(secret),
    encodeURI(secret),
    new URLSearchParams({ v: secret }).toString().slice("v=".length),
    html("&#39;"),
    html("&#x27;"),
    secret.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`),
    Buffer.from(secret, "utf8").toString("base64"),
    Buffer.from(secret, "utf8").toString("base64url"),
  ];
  return [...new Set(forms)].filter((form) => form !== "");
}

/** Where (`entry: form`) a form of one of `secrets` occurs in the zip's own bytes or in an entry's; empty when none. */
export function findSecrets(zip: Uint8Array, secrets: readonly string[]): string[] {
  const found: string[] = [];
  const places: [string, Buffer][] = [["(zip bytes)", Buffer.from(zip)]];
  for (const [name, data] of Object.entries(unzipSync(zip))) places.push([name, Buffer.from(data)]);
  for (const secret of secrets) {
    for (const form of secretEncodings(secret)) {
      for (const [where, bytes] of places) {
        if (bytes.includes(Buffer.from(form, "utf8"))) found.push(`${where}: ${JSON.stringify(form)}`);
      }
    }
  }
  return found;
}
