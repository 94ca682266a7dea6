# The relay as a container image. Two stages: `deps` installs the production dependencies with
# the same command deploy/README.md gives for a host install (`npm ci --omit=dev`); the final
# stage copies them and the TypeScript sources (Node 24 runs them directly: there is no build
# step) and runs the relay as the unprivileged `node` user, with its state in the /data volume.
#
# Deliberately not here: a database (see deploy/docker-compose.yml for PostgreSQL), TLS (put a
# reverse proxy in front; deploy/README.md), tests and dev dependencies, and any secret (pass
# RELAY_ADMIN_PASSWORD and DATABASE_URL at run time, never as build arguments).
#
# Base: Debian (glibc), not Alpine: the `secp256k1` package ships a prebuilt libsecp256k1 for
# linux-x64 with glibc only (about 4x faster commit verification than the node:crypto fallback).
# On musl or arm64 the relay still works, on the slower fallback; `relay check` and the start-up
# log line say which backend is in use (the build below runs `relay check`).
#
#   docker build -t atproto-relay .
#   docker run -d --name relay --stop-timeout 60 -p 2470:2470 -v relay-data:/data \
#     -e RELAY_ADMIN_PASSWORD=change-me atproto-relay
#   docker run --rm atproto-relay check
ARG NODE_IMAGE=node:24-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# Only what `npm ci` reads, so this layer is rebuilt only when the dependencies change. The
# `node` package puts the lock file's Node 24 in node_modules/.bin (fetched from the npm registry
# by its install script), and scripts/postinstall.mjs checks that it runs.
COPY package.json package-lock.json ./
COPY scripts/ ./scripts/
RUN npm ci --omit=dev --no-audit --no-fund \
  && node_modules/.bin/node --version

FROM ${NODE_IMAGE}
WORKDIR /app
# Code and dependencies belong to root and are read-only for the relay; only /data is writable.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY src/ ./src/
RUN mkdir -p /data && chown node:node /data \
  && node_modules/.bin/node src/main.ts check

# Defaults for a container; every one can be overridden with -e or an env file. A PostgreSQL
# DATABASE_URL (postgres://relay:PASSWORD@db:5432/relay) replaces the embedded SQLite file.
ENV NODE_ENV=production \
  RELAY_API_BIND=:2470 \
  RELAY_METRICS_LISTEN=:2471 \
  DATABASE_URL=sqlite:///data/relay.sqlite \
  RELAY_PERSIST_DIR=/data/persist \
  RELAY_LOG_FORMAT=json

VOLUME ["/data"]
# 2470: public API and firehose (WebSocket). 2471: Prometheus /metrics (keep it private).
EXPOSE 2470 2471
USER node

# The image has no curl: Node's fetch asks the relay itself. The port follows RELAY_API_BIND (or
# RELAY_API_LISTEN), so change the port with the variable, not with a --bind flag. The start
# period is long because the relay checks every record of its event log before it listens
# (minutes with a full 72 h window on a cold disk); a success ends it early.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10m --retries=3 \
  CMD ["/app/node_modules/.bin/node", "-e", "const b = process.env.RELAY_API_BIND || process.env.RELAY_API_LISTEN || ':2470'; fetch('http://127.0.0.1:' + b.slice(b.lastIndexOf(':') + 1) + '/xrpc/_health', { signal: AbortSignal.timeout(8000) }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]

# SIGTERM stops the relay gracefully (finish events in flight, write account state and cursors,
# flush the log); give it time: `docker stop -t 60`, compose `stop_grace_period: 60s`.
STOPSIGNAL SIGTERM
# The same program `npm start` runs (`node src/main.ts serve` with the Node 24 from
# node_modules/.bin), started directly so the signal reaches it without npm in between.
# Other commands work too: `docker run --rm atproto-relay help`, `... admin host list`.
ENTRYPOINT ["/app/node_modules/.bin/node", "/app/src/main.ts"]
CMD ["serve"]
