#!/usr/bin/env bash
# Starts (or stops) a throw-away local PostgreSQL server for the persistence tests, from Debian's
# postgresql package. Listens on 127.0.0.1:55432 only; data in /tmp/enclave-test-pg.
# Usage: postgres-for-tests.sh start|stop   (start prints the JDBC URL on stdout)
set -euo pipefail

PGDATA=/tmp/enclave-test-pg
PORT=55432
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$BIN" ] || { echo "postgresql is not installed (apt-get install postgresql)" >&2; exit 1; }
as_pg() { runuser -u postgres -- "$@"; }

case "${1:-}" in
  start)
    if [ -f "$PGDATA/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
      :
    else
      rm -rf "$PGDATA"
      mkdir -p "$PGDATA" && chown postgres:postgres "$PGDATA"
      as_pg "$BIN/initdb" -D "$PGDATA" -A trust -U postgres >/dev/null
      as_pg "$BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w \
        -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$PGDATA -c fsync=off" start >/dev/null
      as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE ROLE enclave LOGIN PASSWORD 'enclave'" >/dev/null
      as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE DATABASE enclave_test OWNER enclave" >/dev/null
    fi
    echo "jdbc:postgresql://127.0.0.1:$PORT/enclave_test?user=enclave&password=enclave"
    ;;
  stop)
    if [ -d "$PGDATA" ]; then
      as_pg "$BIN/pg_ctl" -D "$PGDATA" -m fast stop >/dev/null 2>&1 || true
      rm -rf "$PGDATA"
    fi
    ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
