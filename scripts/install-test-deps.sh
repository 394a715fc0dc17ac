#!/usr/bin/env bash
# Installs what the test suite needs beyond the Rust toolchain. Idempotent:
# each step checks first and does nothing when the tool is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
if ((${#need_apt[@]})); then
  echo "installing Debian packages: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
