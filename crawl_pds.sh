#!/usr/bin/env bash
# crawl_pds.sh PDS_HOSTNAME: subscribe the relay to a PDS and give it generous limits.
#
#   export RELAY_HOST=relay.example.com RELAY_ADMIN_KEY=...
#   cat hosts.txt | parallel -j1 ./crawl_pds.sh {}
#
# Calls the relay's admin API (see docs/admin-api.md):
#   POST /admin/pds/requestCrawl  {"hostname": HOST}
#   POST /admin/pds/changeLimits  {"host": HOST, "per_second", "per_hour", "per_day",
#                                  "crawl_rate", "repo_limit"}
#
# Limits set (each can be overridden by the environment variable named):
#   per_second 100        PDS_PER_SECOND   events/s; the limit that binds in practice
#   per_hour   1000000    PDS_PER_HOUR     above 100/s sustained (360,000/h): never binds
#   per_day    10000000   PDS_PER_DAY      above 100/s all day (8,640,000/d): never binds
#   crawl_rate 10         PDS_CRAWL_RATE   repo fetches per second
#   repo_limit 1000000    PDS_REPO_LIMIT   accounts the host may have
# These are the reference relay's bootstrap values, except per_day: its 1,000,000/day
# (~12 events/s averaged over a day) can throttle a large PDS, so it is raised here.
# sync_validation is left alone (auto: strict once a host has proven compliant).
#
# Environment: RELAY_HOST (host[:port] of the relay), RELAY_ADMIN_KEY; optional RELAY_SCHEME
# (default https, or http when RELAY_HOST starts with localhost or 127.0.0.1).
# Exit codes: 0 ok, 1 the relay answered an error or could not be reached, 2 usage.
set -euo pipefail

# shellcheck source=scripts/relay-admin.sh
source "$(dirname "$0")/scripts/relay-admin.sh"
relay_admin_setup "$@"

per_second="${PDS_PER_SECOND:-100}"
per_hour="${PDS_PER_HOUR:-1000000}"
per_day="${PDS_PER_DAY:-10000000}"
crawl_rate="${PDS_CRAWL_RATE:-10}"
repo_limit="${PDS_REPO_LIMIT:-1000000}"
for n in "$per_second" "$per_hour" "$per_day" "$crawl_rate" "$repo_limit"; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "$0: limit \"$n\" is not a non-negative integer" >&2; exit 2; }
done

# admin_post PATH JSON: prints the answer, or the error and exits 1.
admin_post() {
  admin_call POST "$1" "$2"
  case "$code" in
    2??) echo "$1 $host: $(cat "$answer")" ;;
    000) unreachable ;;
    *)
      echo "$0: POST $1 for $host failed: HTTP $code $(cat "$answer")" >&2
      exit 1 ;;
  esac
}

admin_post /admin/pds/requestCrawl "{\"hostname\":\"$host\"}"
admin_post /admin/pds/changeLimits "{\"host\":\"$host\",\"per_second\":$per_second,\"per_hour\":$per_hour,\"per_day\":$per_day,\"crawl_rate\":$crawl_rate,\"repo_limit\":$repo_limit}"
