#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need
# (idempotently), then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pod-target}"

bash scripts/install-test-deps.sh

# A throwaway PostgreSQL cluster on loopback for pod-adapters-sql's
# PostgreSQL tests (unless POD_TEST_POSTGRES_URL names a server), removed
# when this script exits.
if [[ -z "${POD_TEST_POSTGRES_URL:-}" ]]; then
  pg_env="$(bash scripts/pg-cluster.sh start)"
  eval "$pg_env"
  trap 'bash scripts/pg-cluster.sh stop "$POD_TEST_POSTGRES_DIR"' EXIT
fi

cargo test --workspace --all-features --locked --no-fail-fast

# The web app in a real browser (Debian's Chromium, playwright-core). The
# cargo run above built the pod binary; the test builds it if it is missing.
POD_BIN="$CARGO_TARGET_DIR/debug/pod" node tests/browser/web-app.mjs

# Account linking against pod's own OAuth 2.0 server, in the same browser:
# authorize, consent, code for tokens, voice with the linked token, refresh,
# reuse detection, unlink.
POD_BIN="$CARGO_TARGET_DIR/debug/pod" node tests/browser/account-linking.mjs
