import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { sendError } from "../plugins/errors.ts";
import { registerTraceViewer, traceViewerDir } from "./trace-viewer.ts";

/**
 * The dashboard (packages/web, built by Vite to static files) under /ui, same origin as the API
 * it calls, so its session cookie needs no CORS and can be SameSite=Strict.
 *
 * - `/ui/assets/*`: files whose names carry a content hash; a new build makes new names, so
 *   browsers may keep them for a year without asking (`immutable`). A missing asset is a 404, not
 *   the page (a stale tab asking for an old bundle must fail loudly, not parse HTML as script).
 * - `index.html` (for `/ui`, `/ui/`, and any other `/ui/*` path, so the app's own routes such as
 *   `/ui/runs/run_…` load on a refresh or from a link): `no-cache`, revalidated on every load, so
 *   a deploy reaches every browser at its next navigation.
 * - The pages get UI_CSP instead of the API's closed policy.
 * - No credentials: the files are public (the data is behind the API); the app asks GET
 *   /api/session who is signed in.
 */

/** What the dashboard may load: its own scripts, styles, screenshots, videos and API, nothing else. */
export const UI_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "img-src 'self' data:",
  "media-src 'self'",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  "style-src 'self'",
].join("; ");

/** Where the dashboard is built in this repository: packages/web/dist. */
export const DEFAULT_UI_DIR = fileURLToPath(new URL("../../../web/dist", import.meta.url));

function isFileAt(dir: string, path: string): boolean {
  try {
    return statSync(join(dir, path)).isFile();
  } catch {
    return false;
  }
}

const IMMUTABLE = "public, max-age=31536000, immutable";
/** A path below /ui that may name a built file: plain segments, no dot-dot, no hidden files. */
const FILE_PATH = /^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export interface UiDeps {
  /** The built dashboard (DEFAULT_UI_DIR); null, or a directory without index.html, answers 404 saying how to build it. */
  dir: string | null;
  /** Playwright's trace viewer, served under /ui/trace/ (traceViewerDir() unless given; null: none). */
  traceDir?: string | null;
}

export async function registerUi(app: FastifyInstance, deps: UiDeps): Promise<void> {
  const dir = deps.dir;
  const built = dir !== null && existsSync(join(dir, "index.html"));
  const traceDir = deps.traceDir === undefined ? traceViewerDir() : deps.traceDir;
  // Only reply.sendFile: the routes below decide what each path serves, from which root, and its caching.
  await app.register(fastifyStatic, { root: built && dir !== null ? dir : (traceDir ?? process.cwd()), serve: false });
  registerTraceViewer(app, { dir: traceDir });
  const config = { auth: "public" as const };
  const schema = { hide: true };

  const sendIndex = (request: FastifyRequest, reply: FastifyReply) => {
    if (!built) {
      return sendError(
        reply,
        request,
        "not_found",
        "The dashboard is not built: run `pnpm --filter @conveyor/web build` (pnpm start does it for you)",
      );
    }
    reply.header("content-security-policy", UI_CSP);
    reply.header("cache-control", "no-cache");
    return reply.sendFile("index.html", { cacheControl: false });
  };

  app.get("/ui", { config, schema }, (_request, reply) => reply.redirect("/ui/", 301));
  app.get("/ui/", { config, schema }, sendIndex);
  app.get("/ui/*", { config, schema }, (request, reply) => {
    const path = (request.params as { "*": string })["*"];
    const isFile = built && dir !== null && FILE_PATH.test(path) && isFileAt(dir, path);
    if (isFile && path !== "index.html") {
      reply.header("content-security-policy", UI_CSP);
      reply.header("cache-control", path.startsWith("assets/") ? IMMUTABLE : "no-cache");
      return reply.sendFile(path, { cacheControl: false });
    }
    if (path.startsWith("assets/")) {
      return sendError(reply, request, "not_found", `No such dashboard file: /ui/${path}`);
    }
    return sendIndex(request, reply);
  });
}
