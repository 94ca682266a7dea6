#!/usr/bin/env bash
# Bluesky's Go relay (bluesky-social/indigo, cmd/relay) beside ours, for the load generator's
# side-by-side runs (BENCHMARKS.md). Needs Go 1.26+ and the Go module proxy; nothing in the
# project's tests or start-up uses it.
#
#   bench/go-relay.sh build            fetch the pinned version and build it into data/go-relay/
#   bench/go-relay.sh start [FLAGS]    start it on a fresh data directory, on 127.0.0.1:2490
#                                      (metrics :2491), resolving DIDs through the load
#                                      generator's PLC on :2582; prints its pid
#   bench/go-relay.sh stop
#
# Then: npm run loadgen -- --relay-url http://127.0.0.1:2490 --relay-pid PID --plc-port 2582 \
#         --admin-password bench
#
# One change to its source before the build: the Go relay checks a host named in requestCrawl
# through an HTTP client that refuses private addresses (its guard against server-side request
# forgery), so it refuses the load generator's hosts on loopback whatever its flags. The build
# here swaps that client's transport for Go's default one; nothing else differs. (Its firehose
# dialer already skips the guard for hosts without TLS, which --allow-insecure-hosts permits.)
set -euo pipefail

VERSION=v0.0.0-20260605210604-af2fec94f34c
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/data/go-relay"
BIN="$OUT/relay"
PORT=2490
PASSWORD=bench

case "${1:-}" in
  build)
    mkdir -p "$OUT"
    dir=$(cd "$OUT" && GOFLAGS=-mod=mod go mod download -json "github.com/bluesky-social/indigo@$VERSION" |
      sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [ -n "$dir" ] || { echo "go mod download found no source for indigo@$VERSION" >&2; exit 1; }
    rm -rf "$OUT/src" && cp -r "$dir" "$OUT/src" && chmod -R u+w "$OUT/src"
    checker="$OUT/src/cmd/relay/relay/host_checker.go"
    grep -q 'ssrf.PublicOnlyTransport()' "$checker" || { echo "$checker changed upstream" >&2; exit 1; }
    sed -i 's/Transport: ssrf.PublicOnlyTransport(),/Transport: http.DefaultTransport,/' "$checker"
    sed -i '/"github.com\/bluesky-social\/indigo\/util\/ssrf"/d' "$checker"
    (cd "$OUT/src" && go build -o "$BIN" ./cmd/relay)
    echo "built $BIN ($VERSION, host check on loopback allowed)"
    ;;
  start)
    shift
    [ -x "$BIN" ] || { echo "run: bench/go-relay.sh build" >&2; exit 1; }
    "$0" stop
    rm -rf "$OUT/run" && mkdir -p "$OUT/run"
    cd "$OUT/run"
    RELAY_ADMIN_PASSWORD=$PASSWORD nohup "$BIN" --plc-host http://127.0.0.1:2582 --log-level warn \
      serve --db-url "sqlite://$OUT/run/relay.sqlite" --persist-dir "$OUT/run/persist" \
      --bind "127.0.0.1:$PORT" --metrics-listen 127.0.0.1:2491 --allow-insecure-hosts \
      --default-account-limit 100000 "$@" >"$OUT/run/log" 2>&1 &
    pid=$!
    echo "$pid" >"$OUT/pid"
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      curl -sf -m 1 "http://127.0.0.1:$PORT/xrpc/_health" >/dev/null && { echo "$pid"; exit 0; }
      sleep 0.1
    done
    echo "the Go relay did not answer on :$PORT; see $OUT/run/log" >&2
    exit 1
    ;;
  stop)
    # The relay this script started last, and only it; waits until it has exited.
    [ -f "$OUT/pid" ] || exit 0
    pid=$(cat "$OUT/pid")
    rm -f "$OUT/pid"
    if [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$BIN" ]; then
      kill "$pid"
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    ;;
  *)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
