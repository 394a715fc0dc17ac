#!/usr/bin/env bash
# Supply chain: `cargo deny check` against deny.toml (licences, duplicate
# versions, sources, and RustSec advisories).
#
# Advisories are checked offline against the RustSec snapshot that travels
# with the repository (supply-chain/advisory-db.tar.gz, refreshed by
# scripts/refresh-advisory-db.sh), because CI reaches only the package
# registries, not GitHub. POD_ADVISORY_DB=<clone of rustsec/advisory-db>
# checks against that clone instead (a fresher one, say). deny.toml's
# maximum-db-staleness fails the check once the snapshot is too old.
set -euo pipefail
cd "$(dirname "$0")/.."

deny_version=0.20.2
if [[ "$(cargo deny --version 2>/dev/null)" != "cargo-deny $deny_version" ]]; then
  cargo install cargo-deny --locked --version "$deny_version"
fi

cargo deny check bans licenses sources

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# cargo-deny opens the database of a URL at <db-path>/<name>-<xxhash64 of the
# URL>; this is the directory for the default https://github.com/rustsec/advisory-db.
# A db-path of our own leaves the user's own cargo-deny databases alone.
db="$work/advisory-db-3157b0e258782691"
if [[ -n "${POD_ADVISORY_DB:-}" ]]; then
  ln -s "$(realpath "$POD_ADVISORY_DB")" "$db"
  echo "advisories: the clone $POD_ADVISORY_DB ($(git -C "$db" log -1 --format=%cs))"
else
  # cargo-deny reads the database's age from its git HEAD: one commit, dated
  # as the snapshot's source commit.
  source supply-chain/advisory-db.snapshot
  mkdir "$db"
  tar xzf supply-chain/advisory-db.tar.gz -C "$db"
  (
    cd "$db"
    git init -q
    git add -A
    GIT_AUTHOR_DATE="$date" GIT_COMMITTER_DATE="$date" git -c user.name=pod -c user.email=pod@localhost \
      commit -q -m "rustsec/advisory-db at $commit"
  )
  echo "advisories: the snapshot of rustsec/advisory-db at ${commit:0:12} (${date:0:10}, $(( ($(date +%s) - $(date -d "$date" +%s)) / 86400 )) days old)"
fi
# deny.toml with the db-path above, and nothing fetched.
sed "s|^\[advisories\]$|[advisories]\ndb-path = \"$work\"|" deny.toml >"$work/deny.toml"
cargo deny --offline --config "$work/deny.toml" check advisories
