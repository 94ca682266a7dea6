#!/usr/bin/env bash
# sync_pds.sh PDS_HOSTNAME: start a full resync of every account on a PDS.
#
#   export RELAY_HOST=relay.example.com RELAY_ADMIN_KEY=...
#   cat hosts.txt | parallel -j1 ./sync_pds.sh {}
#
# Calls POST /admin/pds/resync?host=HOST (ADMIN-API.md), which returns at once; watch it with
# ./sync_status_pds.sh HOST. Resync comes with archival mode: a relay without it answers 404
# (or 501, or 405), and this script says so and exits 3 (a 404 naming a thing, such as
# HostNotFound, is an ordinary error: exit 1).
#
# Environment: RELAY_HOST (host[:port] of the relay), RELAY_ADMIN_KEY; optional RELAY_SCHEME
# (default https, or http when RELAY_HOST starts with localhost or 127.0.0.1).
# Exit codes: 0 ok (the answer is printed), 1 the relay answered an error or could not be
# reached, 2 usage, 3 resync not available on this relay.
set -euo pipefail

usage() {
  echo "usage: RELAY_HOST=relay.example.com RELAY_ADMIN_KEY=... $0 PDS_HOSTNAME" >&2
  exit 2
}

[[ $# -eq 1 ]] || usage
host="${1//[[:space:]]/}"   # hosts.txt lines may end in \r or spaces
[[ -n "$host" ]] || usage
if [[ ! "$host" =~ ^[A-Za-z0-9.-]+(:[0-9]+)?$ ]]; then
  echo "$0: \"$1\" is not a bare hostname (no scheme or path: pds.example.com)" >&2
  exit 2
fi
[[ -n "${RELAY_HOST:-}" ]] || { echo "$0: RELAY_HOST is not set" >&2; usage; }
[[ -n "${RELAY_ADMIN_KEY:-}" ]] || { echo "$0: RELAY_ADMIN_KEY is not set" >&2; usage; }

if [[ -n "${RELAY_SCHEME:-}" ]]; then
  scheme="$RELAY_SCHEME"
elif [[ "$RELAY_HOST" == localhost* || "$RELAY_HOST" == 127.0.0.1* ]]; then
  scheme=http
else
  scheme=https
fi

body=$(mktemp)
errors=$(mktemp)
trap 'rm -f "$body" "$errors"' EXIT
# The admin key goes through a file descriptor, not the command line (`ps` would show it).
status=0
code=$(curl -sS --fail-with-body -o "$body" -w '%{http_code}' -X POST \
  -H @<(printf 'Authorization: Bearer %s\n' "$RELAY_ADMIN_KEY") \
  "$scheme://$RELAY_HOST/admin/pds/resync?host=$host" 2>"$errors") || status=$?

case "$code" in
  2??)
    cat "$body"; echo ;;
  404 | 405 | 501)
    # A 404 naming a thing ("HostNotFound": the relay does not know that host) is an
    # ordinary error; a 404 for the route itself, 405 or 501 mean the relay has no resync.
    if grep -Eq '"error" *: *"[A-Za-z]+NotFound"' "$body"; then
      echo "$0: POST /admin/pds/resync for $host failed: HTTP $code $(cat "$body")" >&2
      exit 1
    fi
    echo "$0: resync is not available on this relay yet (it comes with archival mode)" \
      "(HTTP $code: $(cat "$body"))" >&2
    exit 3 ;;
  000)
    echo "$0: cannot reach the relay at $scheme://$RELAY_HOST (curl exit $status): $(cat "$errors")" >&2
    exit 1 ;;
  *)
    echo "$0: POST /admin/pds/resync for $host failed: HTTP $code $(cat "$body")" >&2
    exit 1 ;;
esac
