#!/usr/bin/env bash
# sync_pds.sh PDS_HOSTNAME: start a resync of every account on a PDS and print its progress.
#
#   export RELAY_HOST=relay.example.com RELAY_ADMIN_KEY=...
#   cat hosts.txt | parallel -j1 ./sync_pds.sh {}
#
# Calls POST /admin/pds/resync?host=HOST (docs/admin-api.md "Resync and archival mode"): the
# relay lists the host's accounts and fetches each one whose head differs from its own, in the
# background at the host's crawl rate (the whole repo in archival mode, the signed head
# otherwise). It answers at once with the progress, printed as one line:
#   pds.example.com: running since 2026-...Z: checked 0 of 0 repos (0 pages), 0 to resync: ...
# Asking again while that host's resync runs prints the running one. Follow it with
# ./sync_status_pds.sh HOST, or set RESYNC_WAIT=SECONDS to poll every SECONDS here until it ends
# (a line each time the progress changes; exit 1 if it fails). With parallel -j1 that resyncs the
# hosts one after another.
#
# Environment: RELAY_HOST (host[:port] of the relay), RELAY_ADMIN_KEY; optional RELAY_SCHEME
# (default https, or http when RELAY_HOST starts with localhost or 127.0.0.1), RESYNC_WAIT.
# Exit codes: 0 ok, 1 the relay answered an error (unknown host, HostBanned) or could not be
# reached, or the waited-for resync failed; 2 usage; 3 the relay does not offer resync (older).
set -euo pipefail

# shellcheck source=scripts/relay-admin.sh
source "$(dirname "$0")/scripts/relay-admin.sh"
relay_admin_setup "$@"
wait_s="${RESYNC_WAIT:-}"
if [[ -n "$wait_s" && ! "$wait_s" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
  echo "$0: RESYNC_WAIT must be a number of seconds, not \"$wait_s\"" >&2
  exit 2
fi

resync_call POST
printf '%s\n' "$progress"
[[ -n "$wait_s" ]] || exit 0
previous="$progress"
while [[ "$resync_status" == running ]]; do
  sleep "$wait_s"
  resync_call GET
  [[ "$progress" == "$previous" ]] || printf '%s\n' "$progress"
  previous="$progress"
done
[[ "$resync_status" != failed ]] || { echo "$0: the resync of $host failed" >&2; exit 1; }
