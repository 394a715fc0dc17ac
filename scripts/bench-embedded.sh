#!/usr/bin/env bash
# The embedded default under load: a release `pod serve` on a fresh data
# folder, driven by the shared closed-loop driver (../shared/bench/flow-driver)
# with access tokens pod issued and codes read from pod's outbox.
# Signature checks are off (the driver does not sign); their cost is measured
# on its own by `cargo bench -p pod-alexa --bench verify`.
#
#   CONCURRENCY="1 8 32" SECONDS_PER_RUN=15 bash scripts/bench-embedded.sh
#   HISTORY_ORDERS=1000000 CONCURRENCY=8 bash scripts/bench-embedded.sh   # a big database
#   POD_BIN=/path/to/older/pod USERS=256 bash scripts/bench-embedded.sh    # another build
#
# Prints one summary line per concurrency and leaves the driver's JSON in
# the printed folder. See docs/BENCHMARKS.md for figures and how to read them.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pod-target}"
bench="${BENCH_DIR:-../shared/bench}"
users="${USERS:-4096}"
seconds="${SECONDS_PER_RUN:-15}"
levels="${CONCURRENCY:-1 8 32}"
log_level="${POD_BENCH_LOG:-error}"
history="${HISTORY_ORDERS:-0}"

data="$(mktemp -d /tmp/pod-bench-XXXXXX)"
if [[ -n "${POD_BIN:-}" ]]; then
  # Another pod binary (an older build, for a before/after comparison):
  # its own commands add the users and issue the tokens.
  pod="$POD_BIN"
  echo -n '{' >"$data/tokens.json"
  for n in $(seq "$users"); do
    POD_DATA_DIR="$data" RUST_LOG=error "$pod" users add "bench-$n" --email "bench-$n@example.com" >/dev/null
    token="$(POD_DATA_DIR="$data" RUST_LOG=error "$pod" token "bench-$n" --ttl 24h)"
    [[ $n -gt 1 ]] && echo -n ',' >>"$data/tokens.json"
    echo -n "\"$n\":{\"token\":\"$token\",\"customer\":\"local|bench-$n\"}" >>"$data/tokens.json"
  done
  echo '}' >>"$data/tokens.json"
else
  cargo build -q --release -p pod-server --bin pod --example bench_accounts
  pod="$CARGO_TARGET_DIR/release/pod"
  "$CARGO_TARGET_DIR/release/examples/bench_accounts" \
    --data-dir "$data" --users "$users" --tokens-file "$data/tokens.json" \
    --history-orders "$history" >/dev/null
fi
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

POD_DATA_DIR="$data" POD_LISTEN="127.0.0.1:$port" POD_ALEXA_VERIFY=off \
  POD_MAX_CODES_PER_HOUR=100 RUST_LOG="$log_level" "$pod" serve 2>"$data/server.log" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done

for c in $levels; do
  node "$bench/flow-driver/flow-driver.js" --target "http://127.0.0.1:$port" --alexa-path /alexa \
    --tokens-file "$data/tokens.json" --outbox "$data/outbox.jsonl" --users "$users" \
    --concurrency "$c" --warmup 2 --duration "$seconds" --watch "pod=$server" --quiet \
    --json-out "$data/c$c.json" >/dev/null
  python3 - "$data/c$c.json" "$c" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
o, k = r["order_ms"], r["confirm_ms"]
cpu = r.get("cpu_percent", {})
print(f"c={sys.argv[2]:>3}: {r['flows_per_s']:8.0f} flows/s  failed {r['flows_failed']}  "
      f"order p50/p99 {o['p50']:.2f}/{o['p99']:.2f} ms  confirm p50/p99 {k['p50']:.2f}/{k['p99']:.2f} ms  "
      f"cpu {json.dumps(cpu)}")
PY
done
# How the group commit batched the writes over all runs (Prometheus histogram).
curl -fs "http://127.0.0.1:$port/metrics" | grep -E '^pod_store_commit_(batch_size|duration_seconds)_(bucket|sum|count)' \
  >"$data/commit-metrics.txt" || true
python3 - "$data/commit-metrics.txt" <<'PY' || true
import re, sys
buckets, total, count = [], 0.0, 0
for line in open(sys.argv[1]):
    m = re.match(r'pod_store_commit_batch_size_bucket\{le="([^"]+)"\} (\d+)', line)
    if m: buckets.append((m.group(1), int(m.group(2))))
    if line.startswith("pod_store_commit_batch_size_sum"): total = float(line.split()[1])
    if line.startswith("pod_store_commit_batch_size_count"): count = int(line.split()[1])
if count:
    prev, parts = 0, []
    for le, n in buckets:
        parts.append(f"<={le}: {100 * (n - prev) / count:.0f}%"); prev = n
    print(f"group commit: {count} transactions, {total:.0f} changes, {total / count:.1f} per fsync; " + ", ".join(parts))
PY
echo "driver output and server log in $data"
