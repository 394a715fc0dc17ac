#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain. Idempotent:
# each step checks first and does nothing when the tool is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# The browser test drives Debian's Chromium (no browser download).
[[ -x /usr/bin/chromium ]] || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
# The PostgreSQL backend's tests run a throwaway cluster (scripts/pg-cluster.sh).
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 ||
  need_apt+=(postgresql)
# The cluster tests put nginx (deploy/nginx/pod.conf) in front of several pod
# servers; they run /usr/sbin/nginx with a prefix folder of their own.
[[ -x /usr/sbin/nginx ]] || need_apt+=(nginx)
if ((${#need_apt[@]})); then
  echo "installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # Debian starts the services it installs (nginx on port 80 of every
  # interface) unless policy-rc.d says no; where there is none, say no for
  # this install only.
  made_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  installed=0
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null || installed=$?
  [[ -z "$made_policy" ]] || rm -f /usr/sbin/policy-rc.d
  ((installed == 0)) || exit "$installed"
fi

# playwright-core, exactly as package-lock.json pins it.
if ! (cd tests/browser && node -e '
  const want = require("./package-lock.json").packages["node_modules/playwright-core"].version;
  const have = require("./node_modules/playwright-core/package.json").version;
  process.exit(want === have ? 0 : 1);' 2>/dev/null); then
  echo "installing the browser test's npm packages"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

# cargo-machete: CI fails on a dependency that is declared and never used.
if ! cargo machete --version >/dev/null 2>&1; then
  echo "installing cargo-machete"
  cargo install cargo-machete --locked
fi
