# Shared by crawl_pds.sh, sync_pds.sh and sync_status_pds.sh (sourced, not run): argument and
# environment checks, the relay's base URL, and one admin API call with the key passed through a
# file descriptor (never on the command line, where `ps` would show it).
#
# After `relay_admin_setup "$@"`: $host (the PDS hostname argument) and $relay (scheme://host).
# `admin_call METHOD PATH [JSON]` sets $code (HTTP status, 000 when unreachable), $curl_status,
# and leaves the answer in the file $answer and curl's errors in $errors.

usage() {
  echo "usage: RELAY_HOST=relay.example.com RELAY_ADMIN_KEY=... $0 PDS_HOSTNAME" >&2
  exit 2
}

relay_admin_setup() {
  [[ $# -eq 1 ]] || usage
  host="${1//[[:space:]]/}" # hosts.txt lines may end in \r or spaces
  [[ -n "$host" ]] || usage
  if [[ ! "$host" =~ ^[A-Za-z0-9.-]+(:[0-9]+)?$ ]]; then
    echo "$0: \"$1\" is not a bare hostname (no scheme or path: pds.example.com)" >&2
    exit 2
  fi
  [[ -n "${RELAY_HOST:-}" ]] || { echo "$0: RELAY_HOST is not set" >&2; usage; }
  [[ -n "${RELAY_ADMIN_KEY:-}" ]] || { echo "$0: RELAY_ADMIN_KEY is not set" >&2; usage; }
  local scheme
  if [[ -n "${RELAY_SCHEME:-}" ]]; then
    scheme="$RELAY_SCHEME"
  elif [[ "$RELAY_HOST" == localhost* || "$RELAY_HOST" == 127.0.0.1* ]]; then
    scheme=http
  else
    scheme=https
  fi
  relay="$scheme://$RELAY_HOST"
  answer=$(mktemp)
  errors=$(mktemp)
  trap 'rm -f "$answer" "$errors"' EXIT
}

admin_call() {
  local method="$1" path="$2" json="${3:-}"
  local args=(-sS --fail-with-body -o "$answer" -w '%{http_code}' -X "$method")
  [[ -z "$json" ]] || args+=(-H 'Content-Type: application/json' --data "$json")
  curl_status=0
  # The process substitution must be on curl's own command line to be open while curl runs.
  code=$(curl "${args[@]}" -H @<(printf 'Authorization: Bearer %s\n' "$RELAY_ADMIN_KEY") \
    "$relay$path" 2>"$errors") || curl_status=$?
}

unreachable() {
  echo "$0: cannot reach the relay at $relay (curl exit $curl_status): $(cat "$errors")" >&2
  exit 1
}

# For the resync routes (archival mode): prints the answer, or says resync is not available
# (exit 3: the route itself is missing, 405 or 501), or reports an ordinary error (exit 1, e.g.
# a 404 HostNotFound).
resync_call() {
  local method="$1"
  admin_call "$method" "/admin/pds/resync?host=$host"
  case "$code" in
    2??) cat "$answer"; echo ;;
    404 | 405 | 501)
      if grep -Eq '"error" *: *"[A-Za-z]+NotFound"' "$answer"; then
        echo "$0: $method /admin/pds/resync for $host failed: HTTP $code $(cat "$answer")" >&2
        exit 1
      fi
      echo "$0: resync is not available on this relay yet (it comes with archival mode)" \
        "(HTTP $code: $(cat "$answer"))" >&2
      exit 3 ;;
    000) unreachable ;;
    *)
      echo "$0: $method /admin/pds/resync for $host failed: HTTP $code $(cat "$answer")" >&2
      exit 1 ;;
  esac
}
