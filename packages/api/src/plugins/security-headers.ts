import { createRequire } from "node:module";
import type { FastifyInstance } from "fastify";

/**
 * Browser security headers on every response (helmet's): nosniff, no framing, no referrer,
 * same-origin resource and opener policies, HSTS (which browsers honour only over HTTPS), and a
 * Content-Security-Policy.
 *
 * The API answers JSON, metrics and artifacts: no page of its own, so its policy allows nothing at
 * all. If a response were ever rendered as a document (an error message echoing a URL, an artifact
 * opened in a tab) it could load, run, embed or submit nothing. The Swagger UI at /docs is the one
 * page the API serves; it gets DOCS_CSP instead (swagger-ui's `staticCSP`, on its own routes only).
 */

/** Every response but the docs: nothing may load, nothing may frame it. */
export const API_CSP_DIRECTIVES = {
  "default-src": ["'none'"],
  "base-uri": ["'none'"],
  "form-action": ["'none'"],
  "frame-ancestors": ["'none'"],
};

/**
 * The one inline style element of the Swagger UI: the two fill colours of the Swagger logo in its
 * top bar, an SVG with a `<style>` of its own. Allowed by its hash, not with 'unsafe-inline'.
 * test/e2e/safe-defaults.test.ts loads the UI in Chromium and fails on any violation, so an
 * upgrade that changes it shows up there.
 */
const SWAGGER_LOGO_STYLE_HASH = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='";

/**
 * The Swagger UI's policy. It loads its bundle, stylesheets and initializer as files from
 * /docs/static (no inline script: @fastify/swagger-ui's own hash list is empty), fetches the
 * OpenAPI document and "Try it out" requests from the API itself, and draws icons from data: URLs
 * in its stylesheet. Nothing else: no CDN, no inline script, no eval, no framing, and no
 * `upgrade-insecure-requests`, which would break the page on a plain-HTTP internal address.
 */
export const DOCS_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  `style-src 'self' ${SWAGGER_LOGO_STYLE_HASH}`,
].join("; ");

type HelmetMiddleware = (
  req: unknown,
  res: { setHeader(name: string, value: string): void; removeHeader(name: string): void },
  next: (error?: unknown) => void,
) => void;

/** helmet itself, as @fastify/helmet loads it (the same version and the same headers). */
function loadHelmet(): (options: object) => HelmetMiddleware {
  const fromHere = createRequire(import.meta.url);
  return createRequire(fromHere.resolve("@fastify/helmet"))("helmet");
}

/** What helmet is asked for: the API's closed policy, and X-Frame-Options for browsers without frame-ancestors. */
const HELMET_OPTIONS = {
  contentSecurityPolicy: { useDefaults: false, directives: API_CSP_DIRECTIVES },
  frameguard: { action: "deny" },
};

/**
 * The headers helmet sets with these options, lower-cased: run once against a recording response.
 * With a static policy (no nonces, no per-request directive functions) they are the same on every
 * response.
 */
export function securityHeaders(options: object = HELMET_OPTIONS): Record<string, string> {
  const headers: Record<string, string> = {};
  let failure: unknown;
  loadHelmet()(options)(
    {},
    {
      setHeader: (name, value) => {
        headers[name.toLowerCase()] = String(value);
      },
      removeHeader: (name) => {
        delete headers[name.toLowerCase()];
      },
    },
    (error) => {
      failure = error;
    },
  );
  if (failure) throw failure;
  return headers;
}

/**
 * Sets helmet's headers on every response; call before the routes (and the Swagger UI) are added.
 * @fastify/helmet would build helmet's whole middleware chain again on every request (its
 * options merged, the policy parsed, eleven middlewares called): a few percent of the API's CPU per
 * `POST /api/runs` (docs/benchmarks.md). They are computed once instead and copied onto each reply;
 * the Swagger UI's routes still replace the policy with DOCS_CSP in their onSend hook.
 */
export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  const headers = securityHeaders();
  app.addHook("onRequest", (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
}
