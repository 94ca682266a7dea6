# Shared by crawl_pds.sh, sync_pds.sh and sync_status_pds.sh (sourced, not run): argument and
# environment checks, the relay's base URL, and one admin API call with the key passed through a
# file descriptor (never on the command line, where `ps` would show it).
#
# After `relay_admin_setup "$@"`: $host (the PDS hostname argument) and $relay (scheme://host).
# `admin_call METHOD PATH [JSON]` sets $code (HTTP status, 000 when unreachable), $curl_status,
# and leaves the answer in the file $answer and curl's errors in $errors. `resync_call METHOD`
# is the resync route with its errors handled, leaving one progress line in $progress.

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

# json_field NAME FILE: the value of the first `"NAME": ...` in a JSON answer: a number, true,
# false, null, or a string's text (escapes left as they are). Empty when absent. The relay's
# answers are flat enough for this; the scripts need nothing but bash and curl.
json_field() {
  local name="$1" json
  json=$(<"$2")
  local ws='[[:space:]]*'
  local str_re="\"$name\"$ws:$ws\"(([^\"\\\\]|\\\\.)*)\""
  local lit_re="\"$name\"$ws:$ws(-?[0-9][0-9.eE+-]*|true|false|null)"
  if [[ "$json" =~ $str_re ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
  elif [[ "$json" =~ $lit_re ]]; then
    printf '%s' "${BASH_REMATCH[1]}"
  fi
}

# resync_progress: one line of the resync progress in $answer, e.g. (on one line)
#   pds.example.com: running since 2026-01-01T00:50:00Z: checked 1500 of 1500 repos (3 pages),
#   7 to resync: 5 resynced, 1 failed
# with "; last error: ..." when there is one. Sets $progress and $resync_status.
resync_progress() {
  local f
  resync_status=$(json_field status "$answer")
  progress="$host: ${resync_status:-?} since $(json_field statusChangedAt "$answer"): checked"
  progress+=" $(json_field numReposChecked "$answer") of $(json_field numRepos "$answer") repos"
  progress+=" ($(json_field numRepoPages "$answer") pages),"
  progress+=" $(json_field numReposToResync "$answer") to resync:"
  progress+=" $(json_field numReposResynced "$answer") resynced,"
  progress+=" $(json_field numReposFailed "$answer") failed"
  f=$(json_field lastError "$answer")
  f=${f//\\\"/\"} # the message's \" back to "
  [[ -z "$f" || "$f" == null ]] || progress+="; last error: $f"
}

# A 404 about the route itself (no XRPC error name, as from a proxy, or the relay router's
# NotFound "no such route") rather than about a thing (HostNotFound; NotFound "no resync of
# HOST has run").
route_missing() {
  local error
  error=$(json_field error "$answer")
  [[ -z "$error" ]] || { [[ "$error" == NotFound ]] && grep -qi 'no such route' "$answer"; }
}

# resync_call METHOD: POST starts a host's resync, GET reads its progress
# (/admin/pds/resync?host=, both modes: archival mode fetches whole repos, otherwise heads).
# Sets $progress (one line, see resync_progress) and $resync_status; exit 3 when the relay lacks
# the route (an older relay: 404 no such route, 405, 501); exit 1 for any other error (a host
# never resynced, unknown, banned) or an unreachable relay.
resync_call() {
  local method="$1"
  admin_call "$method" "/admin/pds/resync?host=$host"
  case "$code" in
    2??) resync_progress ;;
    404 | 405 | 501)
      if [[ "$code" != 404 ]] || route_missing; then
        echo "$0: resync is not available on this relay (a version before resync)" \
          "(HTTP $code: $(cat "$answer"))" >&2
        exit 3
      fi
      if [[ "$(json_field error "$answer")" == NotFound ]]; then
        echo "$0: no resync of $host has run (start one: ./sync_pds.sh $host)" >&2
        exit 1
      fi
      echo "$0: $method /admin/pds/resync for $host failed: HTTP $code $(cat "$answer")" >&2
      exit 1 ;;
    000) unreachable ;;
    *)
      echo "$0: $method /admin/pds/resync for $host failed: HTTP $code $(cat "$answer")" >&2
      exit 1 ;;
  esac
}
