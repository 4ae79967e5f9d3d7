import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { sendError } from "../plugins/errors.ts";

/**
 * Playwright's trace viewer, served by Conveyor itself under /ui/trace/: the static build that
 * ships inside `playwright-core` (lib/vite/traceViewer), the same files `npx playwright
 * show-trace` serves. The dashboard links to `/ui/trace/?trace=/api/runs/<id>/artifacts/…/trace.zip`;
 * the viewer's service worker (scope /ui/trace/) fetches that URL with the session cookie, so a
 * trace is authorised exactly like its artifact, and it never leaves the deployment (unlike
 * trace.playwright.dev, nothing is uploaded anywhere).
 *
 * What keeps a tenant's page from running on the dashboard's origin: a trace holds DOM snapshots
 * of the pages a recording visited, which the viewer renders in an iframe on this origin. The
 * snapshot renderer drops every `<script>` element, and the service worker serves each snapshot
 * with `script-src 'nonce-…'` (only the renderer's own script runs): inline handlers
 * (`onerror=`), `javascript:` URLs and scripts of the page do not run. Sub-resources of a
 * snapshot are served from the trace, never fetched from the network. And TRACE_CSP, on the
 * viewer's files and therefore on its service worker, limits every fetch to this origin: a link
 * crafted with `?trace=https://elsewhere/…` loads nothing. test/e2e/trace-viewer.test.ts checks
 * all of this in Chromium with a page whose script and `onerror` would show if they ran.
 */

/** The viewer's directory inside the installed playwright-core. */
export function traceViewerDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("playwright-core/package.json")), "lib", "vite", "traceViewer");
}

/** The sha256 sources of the inline `<script>` elements of an HTML file, for a CSP. */
export function inlineScriptHashes(html: string): string[] {
  return [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map(
    (match) =>
      `'sha256-${createHash("sha256")
        .update(match[1] ?? "")
        .digest("base64")}'`,
  );
}

/**
 * The viewer's policy: its own scripts (and, by hash, the one inline script of its index.html that
 * explains `file://`), React's inline styles, images and media from blob: and data: URLs it makes
 * of trace resources, its service worker, its snapshot frames (same origin, or the data: URL of an
 * empty one), and fetches to this
 * origin only. It may be framed by itself (the snapshot frame), by nothing else.
 */
export function traceViewerCsp(scriptHashes: readonly string[]): string {
  return [
    "default-src 'self'",
    "base-uri 'self'",
    "connect-src 'self'",
    "font-src 'self' data:",
    "form-action 'none'",
    "frame-ancestors 'self'",
    // data: for the blank page the viewer shows before a snapshot (an opaque origin).
    "frame-src 'self' data:",
    "img-src 'self' data: blob:",
    "manifest-src 'self'",
    "media-src 'self' data: blob:",
    "object-src 'none'",
    `script-src 'self' ${scriptHashes.join(" ")}`.trim(),
    "script-src-attr 'none'",
    "style-src 'self' 'unsafe-inline'",
    "worker-src 'self'",
  ].join("; ");
}

const IMMUTABLE = "public, max-age=31536000, immutable";
/** The viewer's built files with a content hash in their name (`index.BY2vkw8A.js`, `assets/x-Cgl6axSs.js`). */
const HASHED = /[.-][A-Za-z0-9_-]{8}\.(?:js|css|ttf)$/;
/** A path below /ui/trace that may name one of the viewer's files: plain segments, no dot-dot, no hidden files. */
const FILE_PATH = /^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

function isFileAt(dir: string, path: string): boolean {
  try {
    return statSync(join(dir, path)).isFile();
  } catch {
    return false;
  }
}

export interface TraceViewerDeps {
  /** The viewer's files (traceViewerDir()); null when playwright-core is not installed. */
  dir: string | null;
}

/** GET /ui/trace/ (the viewer) and its files; call after @fastify/static's reply.sendFile exists. */
export function registerTraceViewer(app: FastifyInstance, deps: TraceViewerDeps): void {
  const dir = deps.dir !== null && isFileAt(deps.dir, "index.html") ? deps.dir : null;
  const csp = dir === null ? "" : traceViewerCsp(inlineScriptHashes(readFileSync(join(dir, "index.html"), "utf8")));
  const config = { auth: "public" as const };
  const schema = { hide: true };

  const send = (request: FastifyRequest, reply: FastifyReply, path: string) => {
    if (dir === null || !FILE_PATH.test(path) || !isFileAt(dir, path)) {
      return sendError(reply, request, "not_found", `No such trace viewer file: /ui/trace/${path}`);
    }
    reply.header("content-security-policy", csp);
    // The snapshot frame is this origin's own page: X-Frame-Options DENY (set on every response)
    // would blank it; frame-ancestors 'self' above says the same for browsers that read CSP.
    reply.header("x-frame-options", "SAMEORIGIN");
    // The service worker's scope is its own directory, /ui/trace/: it sees none of the dashboard.
    reply.header("cache-control", HASHED.test(path) ? IMMUTABLE : "no-cache");
    return reply.sendFile(path, dir, { cacheControl: false });
  };

  app.get("/ui/trace", { config, schema }, (_request, reply) => reply.redirect("/ui/trace/", 301));
  app.get("/ui/trace/", { config, schema }, (request, reply) => send(request, reply, "index.html"));
  app.get("/ui/trace/*", { config, schema }, (request, reply) =>
    send(request, reply, (request.params as { "*": string })["*"]),
  );
}
