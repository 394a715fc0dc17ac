#!/usr/bin/env bash
# A soak: the embedded default under a steady load for a long time, watching
# what must stay flat: resident memory, open file descriptors and latency.
#
#   bash scripts/soak.sh                          # 30 minutes at CONCURRENCY=2
#   SOAK_SECONDS=120 WINDOW=20000 bash scripts/soak.sh   # a quick rehearsal
#
# The load is the shared closed-loop driver (../shared/bench/flow-driver) in
# one run, reporting a latency bucket every WINDOW flows; beside it this
# script samples pod's VmRSS, open descriptors and database size every
# SAMPLE_SECONDS. Pick CONCURRENCY for about half the measured capacity
# (docs/BENCHMARKS.md). USERS is large so that no user reaches the hourly send
# limit over the run (100 codes per user per hour, as in the benchmarks).
# Prints a table (one row per sample) and leaves the raw data in the folder
# it names.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pod-target}"
bench="${BENCH_DIR:-../shared/bench}"
seconds="${SOAK_SECONDS:-1800}"
concurrency="${CONCURRENCY:-2}"
users="${USERS:-100000}"
window="${WINDOW:-200000}"
sample="${SAMPLE_SECONDS:-60}"

data="$(mktemp -d /tmp/pod-soak-XXXXXX)"
cargo build -q --release -p pod-server --bin pod --example bench_accounts
pod="$CARGO_TARGET_DIR/release/pod"
"$CARGO_TARGET_DIR/release/examples/bench_accounts" \
  --data-dir "$data" --users "$users" --tokens-file "$data/tokens.json" >/dev/null
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"

POD_DATA_DIR="$data" POD_LISTEN="127.0.0.1:$port" POD_ALEXA_VERIFY=off \
  POD_MAX_CODES_PER_HOUR=100 RUST_LOG=error "$pod" serve 2>"$data/server.log" &
server=$!
sampler=""
trap 'kill $server $sampler 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done

# Samples: elapsed seconds, VmRSS kB, open descriptors, database bytes,
# write-ahead log bytes, the machine's stolen CPU time (jiffies, /proc/stat:
# time the hypervisor gave this machine's cores to others), the time some
# task here waited for a CPU (µs, /proc/pressure/cpu), then the cumulative
# buckets of pod's commit-duration histogram (from /metrics).
(
  start=$(date +%s)
  while kill -0 "$server" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$server/status")
    fds=$(find "/proc/$server/fd" -mindepth 1 -maxdepth 1 | wc -l)
    db=$(stat -c %s "$data/pod.db" 2>/dev/null || echo 0)
    wal=$(stat -c %s "$data/pod.db-wal" 2>/dev/null || echo 0)
    commits=$(curl -fs "http://127.0.0.1:$port/metrics" |
      awk '/^pod_store_commit_duration_seconds_bucket/ {printf " %s", $2}')
    steal=$(awk '/^cpu / {print $9}' /proc/stat)
    waited=$(sed -n 's/^some .*total=//p' /proc/pressure/cpu 2>/dev/null || echo 0)
    echo "$(( $(date +%s) - start )) $rss $fds $db $wal ${steal:-0} ${waited:-0}$commits"
    sleep "$sample"
  done
) >"$data/samples.txt" &
sampler=$!
# A witness of the disk beside pod: 4 KiB written and fdatasync'd in a file
# of its own every 50 ms, so slow phases can be told apart as the disk's
# (this probe slows too) or pod's own (it does not).
python3 - "$data/fsync-probe" >"$data/fsync.txt" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
start = time.monotonic()
while True:
    t = time.monotonic()
    os.pwrite(fd, os.urandom(4096), 0)
    os.fdatasync(fd)
    print(f"{t - start:.3f} {(time.monotonic() - t) * 1000:.3f}", flush=True)
    time.sleep(0.05)
PY
sampler="$sampler $!"

node "$bench/flow-driver/flow-driver.js" --target "http://127.0.0.1:$port" --alexa-path /alexa \
  --tokens-file "$data/tokens.json" --outbox "$data/outbox.jsonl" --users "$users" \
  --concurrency "$concurrency" --warmup 5 --duration "$seconds" --window "$window" \
  --watch "pod=$server" --quiet --json-out "$data/soak.json" >/dev/null

python3 - "$data/soak.json" "$data/samples.txt" "$concurrency" "$data/fsync.txt" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
samples = [list(map(int, l.split())) for l in open(sys.argv[2]) if l.strip()]
fsyncs = [tuple(map(float, l.split())) for l in open(sys.argv[4]) if len(l.split()) == 2]
# The commit histogram's upper bounds: 0.25 ms doubling 15 times, then +Inf.
bounds = [0.25 * 2**i for i in range(15)] + [float("inf")]

def quantile(counts, q):
    # The upper bound of the bucket holding the q-quantile, in ms.
    total = counts[-1]
    if total <= 0:
        return float("nan")
    for bound, n in zip(bounds, counts):
        if n >= q * total:
            return bound
    return bounds[-1]

def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")
print(f"{r['measured_seconds']:.0f} s at c={sys.argv[3]}: {r['flows_per_s']:.0f} flows/s, "
      f"{r['flows_ok']} flows ok, {r['flows_failed']} failed, "
      f"order p50/p99 {r['order_ms']['p50']:.2f}/{r['order_ms']['p99']:.2f} ms, cpu {json.dumps(r.get('cpu_percent', {}))}")
print("\nlatency by window of flows:")
print("| minutes | flows/s | order p50 / p99 ms | confirm p50 / p99 ms | failed |")
print("|---|---:|---|---|---:|")
for b in r.get("buckets", []):
    print(f"| {b['t_start_s']/60:.1f}–{b['t_end_s']/60:.1f} | {b['flows_per_s']:.0f} | "
          f"{b['order_ms']['p50']:.2f} / {b['order_ms']['p99']:.2f} | "
          f"{b['confirm_ms']['p50']:.2f} / {b['confirm_ms']['p99']:.2f} | {b['failed']} |")
print("\nthe server process (commits and the disk probe: since the previous sample):")
print("| minute | RSS MiB | open fds | database MiB | WAL MiB | commits/s | commit p50 / p99 ms (≤) | probe fdatasync p50 / p99 ms | CPU stolen % | CPU waited % |")
print("|---:|---:|---:|---:|---:|---:|---|---|---:|---:|")
previous = None
for t, rss, fds, db, wal, steal, waited, *buckets in samples:
    commits, probe, others = " | ", "", " | "
    if previous is not None and len(buckets) == len(bounds) and len(previous[3]) == len(bounds):
        delta = [b - a for a, b in zip(previous[3], buckets)]
        seconds = max(t - previous[0], 1)
        commits = f"{delta[-1] / seconds:.0f} | {quantile(delta, 0.5):g} / {quantile(delta, 0.99):g}"
        window = [d for at, d in fsyncs if previous[0] <= at < t]
        probe = f"{percentile(window, 0.5):.2f} / {percentile(window, 0.99):.2f}"
        # Jiffies are 1/100 s per core; stolen is a share of both cores.
        cores = os.cpu_count() or 1
        others = (f"{100 * (steal - previous[1]) / 100 / seconds / cores:.1f} | "
                  f"{100 * (waited - previous[2]) / 1e6 / seconds:.0f}")
    print(f"| {t/60:.1f} | {rss/1024:.1f} | {fds} | {db/1048576:.0f} | {wal/1048576:.0f} | {commits} | {probe} | {others} |")
    previous = (t, steal, waited, buckets)
PY
echo "raw data in $data"
