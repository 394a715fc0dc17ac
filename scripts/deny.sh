#!/usr/bin/env bash
# Supply chain: `cargo deny check` against deny.toml (licences, duplicate
# versions, sources, and RustSec advisories).
#
# Advisories need a copy of github.com/rustsec/advisory-db. This machine's
# network reaches only the package registries, so the script uses a local
# clone when one is given (POD_ADVISORY_DB, default ~/.cache/advisory-db),
# else tries to fetch it, and says plainly when it could do neither.
set -euo pipefail
cd "$(dirname "$0")/.."

deny_version=0.20.2
if [[ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $deny_version" ]]; then
  cargo install cargo-deny --locked --version "$deny_version"
fi

cargo deny check bans licenses sources

db="${POD_ADVISORY_DB:-$HOME/.cache/advisory-db}"
# cargo-deny opens the database of a URL at <db-path>/<name>-<xxhash64 of the
# URL>; this is the directory for the default https://github.com/rustsec/advisory-db.
slot="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs/advisory-db-3157b0e258782691"
if [[ -d "$db/crates" ]]; then
  mkdir -p "$(dirname "$slot")"
  [[ -e "$slot" ]] || ln -s "$db" "$slot"
  echo "advisories: local copy $db ($(git -C "$db" log -1 --format=%cs))"
  cargo deny --offline check advisories
else
  log="$(mktemp)"
  trap 'rm -f "$log"' EXIT
  if cargo deny check advisories 2>"$log"; then
    :
  elif grep -q "failed to fetch advisory database" "$log"; then
    echo "advisories: SKIPPED, the RustSec database is unreachable from here and no local copy is set (POD_ADVISORY_DB)"
  else
    cat "$log" >&2
    exit 1
  fi
fi
