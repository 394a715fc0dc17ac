#!/usr/bin/env bash
# pod servers on one PostgreSQL behind nginx, under load from the shared
# closed-loop driver (../shared/bench/flow-driver), as docs/BENCHMARKS.md
# reports it. Everything listens on 127.0.0.1 free ports and is stopped at
# the end. PostgreSQL runs with fsync on (every commit durable, as SQLite's).
#
#   SERVERS=2 CONCURRENCY="32 128" SECONDS_PER_RUN=10 bash scripts/bench-cluster.sh
#   SERVERS=0 ...   # one pod server on PostgreSQL, no nginx
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/pod-target}"
bench="${BENCH_DIR:-../shared/bench}"
servers="${SERVERS:-2}"
users="${USERS:-4096}"
seconds="${SECONDS_PER_RUN:-10}"
levels="${CONCURRENCY:-32 128}"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

cargo build -q --release -p pod-server --bin pod --example bench_accounts
pod="$CARGO_TARGET_DIR/release/pod"
work="$(mktemp -d /tmp/pod-bench-cluster-XXXXXX)"
pids=()
pg_dir=""
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n "$pg_dir" ]] && bash scripts/pg-cluster.sh stop "$pg_dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT

eval "$(bash scripts/pg-cluster.sh start)"
pg_dir="$POD_TEST_POSTGRES_DIR"
admin="$POD_TEST_POSTGRES_URL"
psql -q "$admin" -c "ALTER SYSTEM SET fsync = on" -c "ALTER SYSTEM SET full_page_writes = on" \
  -c "SELECT pg_reload_conf()" -c "CREATE DATABASE pod_bench" >/dev/null
db="${admin%/*}/pod_bench"

data="$work/data"
"$CARGO_TARGET_DIR/release/examples/bench_accounts" --data-dir "$data" --database-url "$db" \
  --users "$users" --tokens-file "$work/tokens.json" >/dev/null

start_pod() {
  local port="$1"
  POD_DATA_DIR="$data" POD_DATABASE_URL="$db" POD_LISTEN="127.0.0.1:$port" POD_ALEXA_VERIFY=off \
    POD_MAX_CODES_PER_HOUR=100 RUST_LOG=error "$pod" serve 2>>"$work/pod-$port.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && return; sleep 0.1; done
  echo "pod on $port did not come up" >&2; exit 1
}

watch=()
if [[ "$servers" -eq 0 ]]; then
  port="$(free_port)"; start_pod "$port"; target="http://127.0.0.1:$port"
  watch+=("pod=${pids[-1]}")
else
  upstreams=()
  for n in $(seq "$servers"); do
    port="$(free_port)"; start_pod "$port"; upstreams+=("127.0.0.1:$port")
    watch+=("pod$n=${pids[-1]}")
  done
  listen="127.0.0.1:$(free_port)"
  mkdir -p "$work/nginx/logs"
  python3 - "$work/nginx/nginx.conf" "$listen" "${upstreams[@]}" <<'PY'
import sys
out, listen, ups = sys.argv[1], sys.argv[2], sys.argv[3:]
lines = []
for line in open("deploy/nginx/pod.conf"):
    if "${POD_UPSTREAM}" in line:
        lines += [line.replace("${POD_UPSTREAM}", u) for u in ups]
    else:
        lines.append(line.replace("${POD_NGINX_LISTEN}", listen))
open(out, "w").writelines(lines)
PY
  /usr/sbin/nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>>"$work/nginx.log" &
  pids+=($!)
  watch+=("nginx=${pids[-1]}")
  for _ in $(seq 100); do curl -fs "http://$listen/healthz" >/dev/null && break; sleep 0.1; done
  target="http://$listen"
fi
pg_pid="$(head -1 "$pg_dir/data/postmaster.pid")"
watch+=("postgres=$pg_pid")

# CPU seconds used so far by every process of a name (PostgreSQL's backends
# and nginx's workers are children the driver's --watch does not see).
cpu_of() {
  python3 - "$1" <<'PY'
import os, sys
total = 0
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        continue
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    if comm.startswith(sys.argv[1]):
        fields = stat[stat.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])
print(total / os.sysconf("SC_CLK_TCK"))
PY
}

for c in $levels; do
  pg_before="$(cpu_of postgres)"; nginx_before="$(cpu_of nginx)"
  node "$bench/flow-driver/flow-driver.js" --target "$target" --alexa-path /alexa \
    --tokens-file "$work/tokens.json" --outbox "$data/outbox.jsonl" --users "$users" \
    --concurrency "$c" --warmup 2 --duration "$seconds" --watch "$(IFS=,; echo "${watch[*]}")" --quiet \
    --json-out "$work/c$c.json" >/dev/null
  pg_used=$(python3 -c "print($(cpu_of postgres) - $pg_before)")
  nginx_used=$(python3 -c "print($(cpu_of nginx) - $nginx_before)")
  python3 - "$work/c$c.json" "$c" "$servers" "$pg_used" "$nginx_used" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
o, k = r["order_ms"], r["confirm_ms"]
flows = r["flows_ok"] + r["flows_failed"]
cpu = r.get("cpu_percent", {})
pods = sum(v for name, v in cpu.items() if name.startswith("pod"))
secs = flows / r["flows_per_s"] if r["flows_per_s"] else 0
# Per flow, in CPU milliseconds (the warm-up is not in the driver's window,
# so PostgreSQL's and nginx's totals include about 2 s more than measured).
per = lambda pct: 10 * pct / r["flows_per_s"] if r["flows_per_s"] else 0
print(f"servers={sys.argv[3]} c={sys.argv[2]:>3}: {r['flows_per_s']:7.0f} flows/s  failed {r['flows_failed']}  "
      f"order p50/p99 {o['p50']:.2f}/{o['p99']:.2f} ms  confirm p50/p99 {k['p50']:.2f}/{k['p99']:.2f} ms  "
      f"cpu ms/flow: driver {per(cpu.get('driver', 0)):.2f}, pod {per(pods):.2f}, "
      f"postgres {1000 * float(sys.argv[4]) / flows:.2f}, nginx {1000 * float(sys.argv[5]) / flows:.2f}; "
      f"machine busy {cpu.get('machine_busy_of_all_cores', 0)}%")
PY
done
echo "driver output in $work"
