# syntax=docker/dockerfile:1
#
# One image for every Conveyor process. The default command is the HTTP API; run a worker with
# `command: ["node", "packages/worker/src/bin/worker.ts"]` and the migrations with
# `packages/db/src/bin/migrate.ts` (see docker-compose.prod.yml and k8s/).
#
# Node 24 runs the TypeScript sources itself (type stripping: the sources use erasable syntax
# only, tsconfig's erasableSyntaxOnly), so the services have no build step and no transpiler in
# the image: it is the production dependencies plus the sources. The one thing built is the
# dashboard (packages/web): static files, made in their own stage and copied in.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- deps: production node_modules, from the lockfile only --------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV CI=true
# The pnpm of package.json's packageManager field.
RUN npm install -g pnpm@10.34.9 && npm cache clean --force
# Manifests first, so the install layer is rebuilt only when dependencies change.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY packages/api/package.json packages/api/package.json
COPY packages/artifacts/package.json packages/artifacts/package.json
COPY packages/cli/package.json packages/cli/package.json
COPY packages/core/package.json packages/core/package.json
COPY packages/db/package.json packages/db/package.json
COPY packages/egress/package.json packages/egress/package.json
COPY packages/runner/package.json packages/runner/package.json
COPY packages/worker/package.json packages/worker/package.json
COPY packages/testing/package.json packages/testing/package.json
COPY packages/web/package.json packages/web/package.json
# pnpm-workspace.yaml's patchedDependencies: fixes applied to dependencies at install.
COPY patches patches
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm install --frozen-lockfile --prod

# ---- web: the dashboard's static files (Vite), served by the API under /ui ----------------------
FROM ${NODE_IMAGE} AS web
WORKDIR /app
ENV CI=true
RUN npm install -g pnpm@10.34.9 && npm cache clean --force
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY packages/web/package.json packages/web/package.json
COPY patches patches
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm install --frozen-lockfile --filter @conveyor/web
COPY packages/web packages/web
RUN pnpm --filter @conveyor/web build

# ---- runtime ------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# chromium: the browser workers drive (CHROMIUM_PATH below). ffmpeg: Playwright encodes run
# videos with it. tini: PID 1 that forwards SIGTERM to Node (graceful drain) and reaps Chromium's
# zombie processes. fonts: pages render text instead of boxes in screenshots.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
       chromium ffmpeg tini ca-certificates fonts-liberation fonts-noto-color-emoji \
    && rm -rf /var/lib/apt/lists/*

ENV NODE_ENV=production \
    CHROMIUM_PATH=/usr/bin/chromium \
    PLAYWRIGHT_BROWSERS_PATH=/ms-playwright \
    ARTIFACT_DIR=/data/artifacts \
    PORT=3000

WORKDIR /app
COPY --from=deps /app /app
COPY . .
COPY --from=web /app/packages/web/dist packages/web/dist

# Playwright looks for its own ffmpeg build at $PLAYWRIGHT_BROWSERS_PATH/ffmpeg-<revision>/ffmpeg-linux;
# point that at Debian's (the revision comes from the installed playwright-core).
RUN revision="$(node -e 'const path = require("node:path"); const dir = path.dirname(require.resolve("playwright-core/package.json", { paths: ["packages/runner"] })); const b = JSON.parse(require("node:fs").readFileSync(path.join(dir, "browsers.json"), "utf8")); process.stdout.write(b.browsers.find((x) => x.name === "ffmpeg").revision)')" \
    && mkdir -p "/ms-playwright/ffmpeg-${revision}" \
    && ln -s /usr/bin/ffmpeg "/ms-playwright/ffmpeg-${revision}/ffmpeg-linux" \
    && mkdir -p /data/artifacts \
    && chown -R node:node /data

# The node image's unprivileged user (uid 1000); never root. Whether Chromium is sandboxed is
# CHROMIUM_SANDBOX's choice: `auto` (default) uses Chromium's sandbox when the runtime lets this
# user create user namespaces (the default seccomp profile of Docker, or Kubernetes'
# RuntimeDefault, does not) and runs it unsandboxed with a warning at start otherwise; `required`
# refuses to start unsandboxed (docs/operations.md#worker-isolation).
USER node
EXPOSE 3000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "packages/api/src/bin/server.ts"]
