# Node's current LTS, the exact release that .ci/run also tests the suite on (test/deploy.spec.ts
# keeps the two equal).
ARG NODE_VERSION=24.21.0

# ---- build: install all dependencies and compile TypeScript to dist/ ----
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app

COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

COPY . .
RUN npm run build

# ---- production: runtime dependencies, compiled output and prompts only ----
FROM node:${NODE_VERSION}-bookworm-slim AS production
WORKDIR /app

ENV NODE_ENV=production \
    PORT=8080

COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

COPY --from=build /app/dist ./dist
COPY prompts ./prompts

# Writable data directory for the unprivileged runtime user.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME /app/data

USER node

EXPOSE 8080

# Slim images ship no curl: probe /health with Node's built-in fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/health').then((r) => process.exit(r.ok ? 0 : 1)).catch(() => process.exit(1))"]

# The service drains active calls on SIGTERM before exiting.
STOPSIGNAL SIGTERM

# --liftoff-only on the command line: on Node 24, setting it at run time (useLiftoffOnly in
# src/database/sql-client.ts) left the embedded database's first boot peaking at 650-800 MB, not 255 MB.
CMD ["node", "--liftoff-only", "dist/src/main.js"]
