#!/usr/bin/env bash
# A soak: the embedded default under a steady load for a long time, watching
# what must stay flat: resident memory, open file descriptors and latency.
#
#   bash scripts/soak.sh                          # 30 minutes at CONCURRENCY=4
#   SOAK_SECONDS=120 SEGMENT_SECONDS=60 SAMPLE_SECONDS=10 bash scripts/soak.sh   # a quick rehearsal
#
# The load is the shared closed-loop driver (../shared/bench/flow-driver),
# started afresh every SEGMENT_SECONDS (default 180) while the one pod
# server runs the whole time: a driver left running for long takes more and
# more CPU per flow (measured: three to six times as much after several
# minutes), and on these two cores that CPU is taken from pod.
# SEGMENT_SECONDS=$SOAK_SECONDS runs one driver throughout. Pick CONCURRENCY
# for about half the measured capacity (docs/BENCHMARKS.md). USERS is large
# so that no user reaches the hourly send limit over the run (100 codes per
# user per hour, as in the benchmarks).
#
# Beside it, every SAMPLE_SECONDS, this script samples pod's resident
# memory, open descriptors, database and write-ahead log sizes, pod's own
# latency histograms from /metrics (the /alexa route, and the store's
# commits), the CPU time of pod and of the driver, and the time some task
# waited for a CPU (/proc/pressure/cpu); and a probe beside pod fdatasyncs
# 4 KiB every 50 ms, a witness of the disk. On these two shared cores the
# driver's own CPU and pauses show in the latency it measures, so pod's
# latency is also read from pod's side.
#
# Prints the driver's summary and windows, and a table with one row per
# sample; leaves the raw data in the folder it names.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pod-target}"
bench="${BENCH_DIR:-../shared/bench}"
seconds="${SOAK_SECONDS:-1800}"
concurrency="${CONCURRENCY:-4}"
users="${USERS:-100000}"
segment="${SEGMENT_SECONDS:-180}"
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
watchers=""
trap 'kill $server $watchers 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done

# The drivers, one after another, each writing segment-N.json.
(
  left="$seconds" n=0
  while (( left > 0 )); do
    run=$(( left < segment ? left : segment ))
    node "$bench/flow-driver/flow-driver.js" --target "http://127.0.0.1:$port" --alexa-path /alexa \
      --tokens-file "$data/tokens.json" --outbox "$data/outbox.jsonl" --users "$users" \
      --concurrency "$concurrency" --warmup 2 --duration "$run" \
      --watch "pod=$server" --quiet --json-out "$data/segment-$n.json" >/dev/null
    left=$(( left - run )) n=$(( n + 1 ))
  done
) &
drivers=$!

# CPU time in clock ticks (user + system) of a process and its children
# that are still running.
ticks() {
  local total=0 pid
  for pid in $1 $(pgrep -P "$1" 2>/dev/null); do
    total=$(( total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0) ))
  done
  echo "$total"
}
# The driver running now, or nothing between two.
driver_ticks=0 driver_seen=""
driver_cpu() {
  local pid
  pid=$(pgrep -P "$drivers" -f flow-driver.js | head -1 || true)
  if [[ -n "$pid" && "$pid" != "$driver_seen" ]]; then
    # A new driver: its ticks count from zero; carry the old one's total.
    driver_base=$driver_ticks driver_seen=$pid
  fi
  if [[ -n "$pid" ]]; then
    driver_ticks=$(( ${driver_base:-0} + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0) ))
  fi
  echo "$driver_ticks"
}
# One line per sample: elapsed seconds, VmRSS kB, open descriptors,
# database bytes, log bytes, pod's CPU ticks, the driver's CPU ticks, CPU
# waited µs, then the 16 cumulative buckets of pod's /alexa latency and the
# 16 of its commit durations.
(
  start=$(date +%s)
  while kill -0 "$drivers" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$server/status")
    fds=$(find "/proc/$server/fd" -mindepth 1 -maxdepth 1 | wc -l)
    db=$(stat -c %s "$data/pod.db" 2>/dev/null || echo 0)
    wal=$(stat -c %s "$data/pod.db-wal" 2>/dev/null || echo 0)
    waited=$(sed -n 's/^some .*total=//p' /proc/pressure/cpu 2>/dev/null || echo 0)
    metrics=$(curl -fs "http://127.0.0.1:$port/metrics" || true)
    alexa=$(awk '/^pod_http_request_duration_seconds_bucket.*route="\/alexa"/ {printf " %s", $2}' <<<"$metrics")
    commits=$(awk '/^pod_store_commit_duration_seconds_bucket/ {printf " %s", $2}' <<<"$metrics")
    driver_cpu >/dev/null
    echo "$(( $(date +%s) - start )) $rss $fds $db $wal $(ticks "$server") $driver_ticks ${waited:-0}$alexa$commits"
    sleep "$sample"
  done
) >"$data/samples.txt" &
watchers="$!"
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
watchers="$watchers $!"
wait "$drivers"

python3 - "$data" "$data/samples.txt" "$concurrency" "$data/fsync.txt" <<'PY'
import glob, json, os, sys
segments = sorted(glob.glob(os.path.join(sys.argv[1], "segment-*.json")),
                  key=lambda f: int(f.rsplit("-", 1)[1].split(".")[0]))
runs = [json.load(open(f)) for f in segments]
samples = [list(map(int, l.split())) for l in open(sys.argv[2]) if l.strip()]
fsyncs = [tuple(map(float, l.split())) for l in open(sys.argv[4]) if len(l.split()) == 2]
# pod's histograms' upper bounds, in ms: 0.25 doubling 15 times, then +Inf.
bounds = [0.25 * 2**i for i in range(15)] + [float("inf")]
hz = os.sysconf("SC_CLK_TCK")

def quantile(counts, q):
    # As Prometheus' histogram_quantile: linear within the bucket, in ms.
    total = counts[-1]
    if total <= 0:
        return float("nan")
    rank, lower, below = q * total, 0.0, 0
    for bound, n in zip(bounds, counts):
        if n >= rank:
            if bound == float("inf"):
                return lower
            return lower + (bound - lower) * (rank - below) / max(n - below, 1)
        lower, below = bound, n
    return lower

def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")

ok = sum(r["flows_ok"] for r in runs)
failed = sum(r["flows_failed"] for r in runs)
measured = sum(r["measured_seconds"] for r in runs)
print(f"{measured:.0f} s measured at c={sys.argv[3]} by {len(runs)} driver runs: {ok / max(measured, 1):.0f} flows/s, "
      f"{ok} flows ok, {failed} failed")
print("\neach driver run, as the driver measured it:")
print("| run | flows/s | order p50 / p99 ms | confirm p50 / p99 ms | failed | driver CPU % | pod CPU % |")
print("|---:|---:|---|---|---:|---:|---:|")
for n, r in enumerate(runs):
    cpu = r.get("cpu_percent", {})
    print(f"| {n} | {r['flows_per_s']:.0f} | {r['order_ms']['p50']:.2f} / {r['order_ms']['p99']:.2f} | "
          f"{r['confirm_ms']['p50']:.2f} / {r['confirm_ms']['p99']:.2f} | {r['flows_failed']} | "
          f"{cpu.get('driver', float('nan')):.0f} | {cpu.get('pod', float('nan')):.0f} |")
print("\nby sample (rates, latencies and CPU since the previous sample; latency as pod measured it):")
print("| minute | RSS MiB | open fds | database MiB | log MiB | /alexa req/s | /alexa p50 / p99 ms | commit p99 ms "
      "| pod CPU % | driver CPU % | driver CPU ms per 1000 req | CPU waited % | probe fdatasync p99 ms |")
print("|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
previous = None
for row in samples:
    t, rss, fds, db, wal, pod_ticks, driver_ticks, waited, *hist = row
    line = f"| {t/60:.1f} | {rss/1024:.1f} | {fds} | {db/1048576:.0f} | {wal/1048576:.0f} |"
    if previous is not None and len(hist) == 32 and len(previous[-1]) == 32:
        p_t, p_pod, p_driver, p_waited, p_hist = previous
        seconds = max(t - p_t, 1)
        alexa = [b - a for a, b in zip(p_hist[:16], hist[:16])]
        commits = [b - a for a, b in zip(p_hist[16:], hist[16:])]
        requests = alexa[-1]
        driver_ms = 1000 * (driver_ticks - p_driver) / hz
        window = [d for at, d in fsyncs if p_t <= at < t]
        line += (f" {requests / seconds:.0f} | {quantile(alexa, 0.5):.2f} / {quantile(alexa, 0.99):.2f} |"
                 f" {quantile(commits, 0.99):.2f} | {100 * (pod_ticks - p_pod) / hz / seconds:.0f} |"
                 f" {100 * (driver_ticks - p_driver) / hz / seconds:.0f} |"
                 f" {1000 * driver_ms / max(requests, 1):.0f} | {100 * (waited - p_waited) / 1e6 / seconds:.0f} |"
                 f" {percentile(window, 0.99):.2f} |")
    else:
        line += " | | | | | | | | |"
    print(line)
    previous = (t, pod_ticks, driver_ticks, waited, hist)
PY
echo "raw data in $data"
