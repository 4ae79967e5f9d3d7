/** What a secret is replaced with. */
export const REDACTED = "[redacted]";

/**
 * A function replacing every occurrence of any of `secrets` in a text by `[redacted]`. Each secret
 * is also matched as it appears once URL-encoded (in a page URL, a query string) or escaped inside
 * a JSON string (failure messages quote values with JSON.stringify), so a secret with a space or
 * a quote is not let through by its encoding.
 */
export function createRedactor(secrets: Iterable<string>): (text: string) => string {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret === "") continue;
    const component = encodeURIComponent(secret);
    for (const form of [
      secret,
      component,
      component.replace(/%20/g, "+"),
      encodeURI(secret),
      JSON.stringify(secret).slice(1, -1),
    ]) {
      if (form !== "") forms.add(form);
    }
  }
  // Longest first, so a secret containing another is replaced whole.
  const ordered = [...forms].sort((a, b) => b.length - a.length);
  if (ordered.length === 0) return (text) => text;
  return (text) => ordered.reduce((redacted, secret) => redacted.split(secret).join(REDACTED), text);
}
