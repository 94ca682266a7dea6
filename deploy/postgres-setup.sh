#!/usr/bin/env bash
# Creates the relay's PostgreSQL role and database: a login role (not a superuser) that owns one
# database, so the relay can run its own migrations at start and touch nothing else. Safe to run
# again: an existing role gets the new password, an existing database is left as it is.
#
# Deliberately not here: tables (the relay creates and migrates them itself), server settings
# (postgresql.conf, pg_hba.conf), backups.
#
# Run it as a PostgreSQL superuser, on the database server:
#   runuser -u postgres -- env RELAY_DB_PASSWORD='...' ./postgres-setup.sh   (as root)
# or against another server (libpq variables: PGHOST, PGPORT, PGUSER, PGPASSWORD):
#   PGHOST=db.internal PGUSER=postgres RELAY_DB_PASSWORD='...' ./postgres-setup.sh
# The official postgres image runs it on first start when it is mounted into
# /docker-entrypoint-initdb.d/ (see docker-compose.yml); it is executable, so it runs in a shell
# of its own there.
#
# Variables: RELAY_DB_PASSWORD (required), RELAY_DB_USER (default relay), RELAY_DB_NAME
# (default relay). The relay then connects with
#   DATABASE_URL=postgres://relay:PASSWORD@HOST:5432/relay
# (a password with characters other than letters, digits and -._~ must be percent-encoded
# there; `openssl rand -hex 24` makes one that needs no encoding).

# A function run in a subshell: when the postgres image sources this file (if it lost its
# executable bit), neither `set` nor `exit` leaks into the image's entrypoint.
setup_relay_database() (
  set -euo pipefail

  password="${RELAY_DB_PASSWORD:-}"
  user="${RELAY_DB_USER:-relay}"
  database="${RELAY_DB_NAME:-relay}"
  if [ -z "$password" ]; then
    echo "postgres-setup.sh: set RELAY_DB_PASSWORD (e.g. RELAY_DB_PASSWORD=\$(openssl rand -hex 24))" >&2
    exit 2
  fi

  # Inside the postgres image's first start, POSTGRES_USER is the superuser it just created.
  export PGUSER="${PGUSER:-${POSTGRES_USER:-postgres}}"
  export PGDATABASE="${PGDATABASE:-postgres}"

  # psql quotes the variables itself (:'x' as a literal, :"x" as an identifier), so any password or
  # name is safe; \gexec runs each generated statement (CREATE DATABASE cannot run in a DO block).
  psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 \
    -v user="$user" -v password="$password" -v database="$database" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'user', :'password')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user')
UNION ALL
SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', :'user', :'password')
  WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user')
\gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L TEMPLATE template0', :'database', :'user', 'UTF8')
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'database')
\gexec
-- Only the owner (and superusers) may connect; PostgreSQL lets every role connect by default.
REVOKE CONNECT, TEMPORARY ON DATABASE :"database" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"database" TO :"user";
SQL

  echo "postgres-setup.sh: role \"$user\" owns database \"$database\"" >&2
)

setup_relay_database
