#!/usr/bin/env bash
# Refreshes the RustSec advisory snapshot that CI checks the dependencies
# against (supply-chain/advisory-db.tar.gz), from a clone of
# https://github.com/rustsec/advisory-db. CI reaches only the package
# registries, not GitHub, so the snapshot travels with the repository.
#
#   git clone https://github.com/rustsec/advisory-db ~/.cache/advisory-db
#   bash scripts/refresh-advisory-db.sh ~/.cache/advisory-db
#
# The archive is reproducible: the same commit gives the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
clone="${1:?usage: refresh-advisory-db.sh <clone of rustsec/advisory-db>}"
commit="$(git -C "$clone" rev-parse HEAD)"
date="$(git -C "$clone" log -1 --format=%cI)"
[[ -z "$(git -C "$clone" status --porcelain)" ]] || { echo "$clone has local changes" >&2; exit 1; }

tar -C "$clone" --sort=name --mtime="$date" --owner=0 --group=0 --numeric-owner \
  -cf - LICENSE.txt LICENSES crates | gzip -9n >supply-chain/advisory-db.tar.gz
printf 'commit=%s\ndate=%s\n' "$commit" "$date" >supply-chain/advisory-db.snapshot
echo "snapshot of $commit ($date): $(tar tzf supply-chain/advisory-db.tar.gz | grep -c '\.md$') advisories"
