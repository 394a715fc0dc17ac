#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1, for the tests of the
# PostgreSQL backend (pod-adapters-sql).
#
#   eval "$(bash scripts/pg-cluster.sh start)"
#   cargo test -p pod-adapters-sql
#   bash scripts/pg-cluster.sh stop "$POD_TEST_POSTGRES_DIR"
#
# start  Installs Debian's `postgresql` when initdb/pg_ctl are missing, makes
#        a cluster in a new temporary folder, starts it and prints (on
#        stdout, nothing else goes there):
#          export POD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres
#          export POD_TEST_POSTGRES_DIR=/tmp/pod-pg.XXXXXX
#        The cluster belongs to the `postgres` system user when run as root
#        (initdb refuses root); it listens on a free port of 127.0.0.1 only,
#        trusts TCP connections from 127.0.0.1 only, keeps its Unix socket
#        in its own folder, and runs without fsync (nothing in it is meant to
#        survive). If POD_TEST_POSTGRES_DIR names a cluster of this script
#        that is running, start prints its exports again and does nothing.
# stop DIR
#        Stops the cluster in DIR and removes DIR. Does nothing when DIR is
#        gone; refuses a folder this script did not make.
set -euo pipefail

MARKER=pod-pg-cluster

say() { echo "pg-cluster: $*" >&2; }

# initdb and pg_ctl: on PATH, else the newest of Debian's versioned folders.
find_bin() {
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"
    return
  fi
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
    echo "$dir"
  fi
}

# Runs a command as the cluster's owner: `postgres` when we are root.
as_owner() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    (cd / && "$@")
  fi
}

port_of() { sed -n 's/^port = \([0-9]*\)$/\1/p' "$1/data/postgresql.conf" | tail -n 1; }

exports() {
  echo "export POD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$(port_of "$1")/postgres"
  echo "export POD_TEST_POSTGRES_DIR=$1"
}

start() {
  local existing="${POD_TEST_POSTGRES_DIR:-}"
  if [[ -n "$existing" && -f "$existing/$MARKER" ]]; then
    local bin
    bin="$(find_bin)"
    if [[ -n "$bin" ]] && as_owner "$bin/pg_ctl" -D "$existing/data" status >/dev/null 2>&1; then
      exports "$existing"
      return
    fi
  fi

  local bin
  bin="$(find_bin)"
  if [[ -z "$bin" ]]; then
    if [[ $EUID -ne 0 ]]; then
      say "initdb and pg_ctl not found; install PostgreSQL's server (Debian: apt-get install postgresql)"
      exit 1
    fi
    say "installing Debian's postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends postgresql >/dev/null
    bin="$(find_bin)"
    [[ -n "$bin" ]] || { say "postgresql installed, but no initdb/pg_ctl found"; exit 1; }
  fi

  local dir
  dir="$(mktemp -d /tmp/pod-pg.XXXXXX)"
  touch "$dir/$MARKER"
  [[ $EUID -ne 0 ]] || chown -R postgres:postgres "$dir"
  if ! as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
    --no-sync --no-instructions >"$dir/initdb.log" 2>&1; then
    say "initdb failed:"
    cat "$dir/initdb.log" >&2
    rm -rf "$dir"
    exit 1
  fi
  # Trust TCP from 127.0.0.1 and nothing else (no Unix-socket line either).
  echo "host all all 127.0.0.1/32 trust" >"$dir/data/pg_hba.conf"

  # A free port, picked by the kernel (through python3; a random one
  # without it); another process may take it before the server binds it,
  # so a failed start is retried on a new one.
  local attempt port
  for attempt in 1 2 3; do
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
      echo $((20000 + RANDOM % 40000)))"
    cat >>"$dir/data/postgresql.conf" <<EOF
# pod-pg-cluster (attempt $attempt)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
full_page_writes = off
EOF
    if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
      exports "$dir"
      return
    fi
  done
  say "the server did not start:"
  tail -n 20 "$dir/server.log" >&2 || true
  rm -rf "$dir"
  exit 1
}

stop() {
  local dir="${1:-}"
  [[ -n "$dir" ]] || { say "usage: $0 stop DIR"; exit 2; }
  [[ -e "$dir" ]] || return 0
  if [[ ! -f "$dir/$MARKER" ]]; then
    say "$dir is not a cluster made by this script; not touching it"
    exit 1
  fi
  local bin
  bin="$(find_bin)"
  if [[ -n "$bin" && -f "$dir/data/postmaster.pid" ]]; then
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  start) start ;;
  stop) stop "${2:-}" ;;
  *)
    echo "usage: $0 start | stop DIR" >&2
    exit 2
    ;;
esac
