#!/usr/bin/env bash
# sync_status_pds.sh PDS_HOSTNAME: show the progress of a PDS's resync.
#
#   export RELAY_HOST=relay.example.com RELAY_ADMIN_KEY=...
#   cat hosts.txt | parallel -j1 ./sync_status_pds.sh {}
#
# Calls GET /admin/pds/resync?host=HOST (docs/admin-api.md) and prints the answer:
# {"resync": {"pds", "numRepoPages", "numRepos", "numReposChecked", "numReposToResync",
# "status", "statusChangedAt"}}. Resync comes with archival mode: a relay without it answers 404
# (or 501, or 405), and this script says so and exits 3 (a 404 naming a thing, such as
# HostNotFound, is an ordinary error: exit 1).
#
# Environment: RELAY_HOST (host[:port] of the relay), RELAY_ADMIN_KEY; optional RELAY_SCHEME
# (default https, or http when RELAY_HOST starts with localhost or 127.0.0.1).
# Exit codes: 0 ok (the answer is printed), 1 the relay answered an error or could not be
# reached, 2 usage, 3 resync not available on this relay.
set -euo pipefail

# shellcheck source=scripts/relay-admin.sh
source "$(dirname "$0")/scripts/relay-admin.sh"
relay_admin_setup "$@"
resync_call GET
