#!/usr/bin/env bash
# sync_status_pds.sh PDS_HOSTNAME: print the progress of a PDS's resync (the running one, else
# the last), as one line:
#   pds.example.com: done since 2026-...Z: checked 1500 of 1500 repos (3 pages), 7 to resync:
#   5 resynced, 1 failed
# followed by "; last error: ..." when there is one.
#
#   export RELAY_HOST=relay.example.com RELAY_ADMIN_KEY=...
#   cat hosts.txt | parallel -j1 ./sync_status_pds.sh {}
#
# Calls GET /admin/pds/resync?host=HOST (docs/admin-api.md "Resync and archival mode"). A host
# that was never resynced is an error (exit 1), so the hosts still to start stand out.
#
# Environment: RELAY_HOST (host[:port] of the relay), RELAY_ADMIN_KEY; optional RELAY_SCHEME
# (default https, or http when RELAY_HOST starts with localhost or 127.0.0.1).
# Exit codes: 0 ok (whatever the resync's status), 1 the relay answered an error (no resync of
# the host has run, unknown host) or could not be reached, 2 usage, 3 the relay does not offer
# resync (older).
set -euo pipefail

# shellcheck source=scripts/relay-admin.sh
source "$(dirname "$0")/scripts/relay-admin.sh"
relay_admin_setup "$@"
resync_call GET
printf '%s\n' "$progress"
