#!/usr/bin/env bash
# Checks the operating files in deploy/ (docs/DEPLOYMENT.md describes them):
#   - deploy/pod.service: `systemd-analyze verify` (no warning allowed) and
#     its sandbox exposure (`systemd-analyze security --offline`), in a
#     throwaway root, so no running systemd is needed (containers, CI);
#   - deploy/prometheus/pod-alerts.yml: `promtool check rules`, and
#     `promtool test rules` on pod-alerts.test.yml;
#   - deploy/grafana/pod-dashboard.json: well-formed JSON, and its queries
#     parsed by promtool;
#   - both: every metric, label, reason and route they name exists in the
#     code (scripts/check-deploy-metrics.py).
# Installs what it needs when missing (idempotent): Debian's systemd (for
# systemd-analyze) and python3, and promtool, taken out of Debian's
# prometheus package into a cache folder rather than installing the package
# (that would bring a Prometheus server, which starts on :9090 on a machine
# running systemd, and its web assets). A promtool on PATH is used as is.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
apt_updated=
apt_update() {
  if [[ -z $apt_updated ]]; then
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
}

need_apt=()
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
command -v python3 >/dev/null 2>&1 || need_apt+=(python3)
if ((${#need_apt[@]})); then
  echo "installing Debian packages: ${need_apt[*]}"
  apt_update
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

tools="${XDG_CACHE_HOME:-$HOME/.cache}/pod-tools"
promtool="$(command -v promtool || true)"
if [[ -z $promtool ]]; then
  promtool="$tools/promtool"
  if ! "$promtool" --version >/dev/null 2>&1; then
    echo "installing promtool (from Debian's prometheus package) in $tools"
    download="$(mktemp -d)"
    apt-cache show prometheus >/dev/null 2>&1 || apt_update
    (cd "$download" && apt-get download -qq -o APT::Sandbox::User=root prometheus >/dev/null)
    mkdir -p "$tools"
    dpkg-deb --fsys-tarfile "$download"/prometheus_*.deb | tar -xO ./usr/bin/promtool >"$promtool.new"
    chmod 0755 "$promtool.new"
    mv "$promtool.new" "$promtool"
    rm -rf "$download"
  fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "-- deploy/pod.service"
# A root with the unit, the system's own units (the targets it names) and
# a stand-in for the binary ExecStart names, which verify wants to exist.
mkdir -p "$work/root/etc/systemd/system" "$work/root/usr/lib/systemd" "$work/root/usr/local/bin"
units=/usr/lib/systemd/system
[[ -e $units/sysinit.target ]] || units=/lib/systemd/system # before the /usr merge
cp -r "$units" "$work/root/usr/lib/systemd/"
cp deploy/pod.service "$work/root/etc/systemd/system/pod.service"
exec_start="$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' deploy/pod.service)"
mkdir -p "$work/root$(dirname "$exec_start")"
printf '#!/bin/sh\n' >"$work/root$exec_start"
chmod 0755 "$work/root$exec_start"
# verify exits 0 on an unknown key or a misspelt value and only says so:
# any output is a failure.
verify_out="$(systemd-analyze verify --man=no --generators=no --root="$work/root" \
  "$work/root/etc/systemd/system/pod.service" 2>&1)" || {
  echo "$verify_out"
  echo "systemd-analyze verify failed"
  exit 1
}
if [[ -n $verify_out ]]; then
  echo "$verify_out"
  echo "systemd-analyze verify: fix the warnings above"
  exit 1
fi
# The sandbox's exposure score (0 best, 10 worst); 1.2 when written.
if ! security_out="$(systemd-analyze security --offline=yes --root="$work/root" \
  --threshold=20 pod.service 2>&1)"; then
  echo "$security_out"
  echo "systemd-analyze security: the unit's exposure rose above 2.0"
  exit 1
fi
grep -o 'Overall exposure level.*' <<<"$security_out"

echo "-- deploy/prometheus/pod-alerts.yml"
"$promtool" check rules deploy/prometheus/pod-alerts.yml
(cd deploy/prometheus && "$promtool" test rules pod-alerts.test.yml)

echo "-- deploy/grafana/pod-dashboard.json"
python3 -m json.tool deploy/grafana/pod-dashboard.json >/dev/null
echo "well-formed JSON"

echo "-- metric names against pod-adapters-http/src/metrics.rs"
python3 scripts/check-deploy-metrics.py --promql-out "$work/dashboard-queries.yml" \
  deploy/prometheus/pod-alerts.yml deploy/prometheus/pod-alerts.test.yml \
  deploy/grafana/pod-dashboard.json
"$promtool" check rules "$work/dashboard-queries.yml" >/dev/null
echo "the dashboard's queries parse"
echo "deploy checks passed"
