#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need
# (idempotently), then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pod-target}"

bash scripts/install-test-deps.sh

cargo test --workspace --all-features --locked --no-fail-fast

# The web app in a real browser (Debian's Chromium, playwright-core). The
# cargo run above built the pod binary; the test builds it if it is missing.
POD_BIN="$CARGO_TARGET_DIR/debug/pod" node tests/browser/web-app.mjs
