# shellcheck shell=bash
# Sourced by .ci/run before `make test`: makes a PostgreSQL server available for the shared-study
# Optuna test (tests/experiments/test_tuning.py, marker `postgres`) and exports
#   GRAPHBOOST_TEST_POSTGRES_URL=postgresql+psycopg2://graphboost:graphboost@localhost:<port>/graphboost_test
# Installs PostgreSQL with apt-get when it is absent (needs root, as on a fresh Debian machine),
# starts a private server (its own data folder and port, so a system cluster is left alone),
# creates the user and the database. Any failure prints a message and returns non-zero, which
# stops .ci/run (it runs under `set -e`).

_gb_pg_fail() {
  echo ".ci/postgres.sh: ERROR: $*" >&2
  return 1
}

_gb_pg_setup() {
  local port="${GRAPHBOOST_PG_PORT:-54329}"
  local datadir="${GRAPHBOOST_PG_DATA:-/tmp/graphboost-ci-pgdata}"
  local logfile="${datadir}.log"
  local user=graphboost password=graphboost db=graphboost_test
  local bindir run_as=()

  if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    echo ".ci/postgres.sh: PostgreSQL not found; installing it with apt-get" >&2
    [ "$(id -u)" = 0 ] || _gb_pg_fail "PostgreSQL is not installed and we are not root" || return 1
    command -v apt-get >/dev/null || _gb_pg_fail "apt-get not found (not a Debian machine?)" || return 1
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || _gb_pg_fail "apt-get update failed" || return 1
    apt-get install -y -qq postgresql >/dev/null || _gb_pg_fail "apt-get install postgresql failed" || return 1
  fi
  bindir="$(find /usr/lib/postgresql -maxdepth 2 -type d -name bin | sort -V | tail -n 1)"
  [ -x "$bindir/initdb" ] || _gb_pg_fail "no initdb under /usr/lib/postgresql" || return 1

  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || _gb_pg_fail "user 'postgres' does not exist" || return 1
    run_as=(runuser -u postgres --)
  fi

  if ! "$bindir/pg_isready" -q -h localhost -p "$port"; then
    rm -rf "$datadir" "$logfile"
    mkdir -p "$datadir" || _gb_pg_fail "cannot create $datadir" || return 1
    touch "$logfile"
    if [ "$(id -u)" = 0 ]; then chown postgres "$datadir" "$logfile"; fi
    "${run_as[@]}" "$bindir/initdb" -D "$datadir" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 >/dev/null ||
      _gb_pg_fail "initdb failed" || return 1
    "${run_as[@]}" "$bindir/pg_ctl" -D "$datadir" -l "$logfile" -w -t 60 \
      -o "-p $port -k /tmp -c listen_addresses=localhost" start >/dev/null ||
      { cat "$logfile" >&2; _gb_pg_fail "the server did not start (log above)"; return 1; }
  fi

  local psql=("${run_as[@]}" "$bindir/psql" -h /tmp -p "$port" -U postgres -v ON_ERROR_STOP=1 -qtA)
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = '$user'")" != 1 ]; then
    "${psql[@]}" -c "CREATE ROLE $user LOGIN PASSWORD '$password'" ||
      _gb_pg_fail "cannot create role $user" || return 1
  fi
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]; then
    "${psql[@]}" -c "CREATE DATABASE $db OWNER $user" ||
      _gb_pg_fail "cannot create database $db" || return 1
  fi
  # The tests connect over TCP with the password, exactly as they will.
  PGPASSWORD="$password" "$bindir/psql" -h localhost -p "$port" -U "$user" -d "$db" -qtA \
    -c "SELECT 1" >/dev/null ||
    _gb_pg_fail "cannot connect to $db on localhost:$port as $user" || return 1

  export GRAPHBOOST_TEST_POSTGRES_URL="postgresql+psycopg2://$user:$password@localhost:$port/$db"
  echo ".ci/postgres.sh: PostgreSQL ready on localhost:$port (database $db)" >&2
}

_gb_pg_setup
