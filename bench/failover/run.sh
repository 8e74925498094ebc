#!/usr/bin/env bash
# Failover benchmark, run on demand (not part of ./test.sh). On one machine, over loopback: a real
# etcd and three candidate nodes (`litefs mount` on an etcd lease with TTL seconds), measured in
# the same run:
#   1. failover: SIGKILL of the primary to the first write another node accepts (a sqlite3 INSERT
#      tried on every other node in turn), RUNS times (the killed node restarts as a replica and
#      catches up between runs); p50/p95 against the TTL;
#   2. handoff: SIGTERM of the primary (it hands its lease to a candidate replica) to the first
#      write another node accepts, RUNS times.
# Every run first waits until all nodes hold the primary's position, so no write is owed.
# usage: bench/failover/run.sh [RUNS [TTL]]   (as root; env BENCH_TMP, BENCH_PORT, KEEP_WORK=1)
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-20}
TTL=${2:-2}
PORT=${BENCH_PORT:-21402}
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/litefs-failover-bench-XXXXXX")

# shellcheck source=../nodes.sh
. bench/nodes.sh
./litefs version >/dev/null
now() { date +%s.%N; }
NODES=(n1 n2 n3)
declare -A port=([n1]=$PORT [n2]=$((PORT + 1)) [n3]=$((PORT + 2)))

start_etcd $((PORT + 10)) $((PORT + 11))
for n in "${NODES[@]}"; do
  mkdir -p "$WORK/$n"
  cat >"$WORK/$n/litefs.yml" <<YML
fuse:
  dir: "$WORK/$n/mnt"
data:
  dir: "$WORK/$n/data"
http:
  addr: "127.0.0.1:${port[$n]}"
lease:
  type: "etcd"
  candidate: true
  hostname: "$n"
  advertise-url: "http://127.0.0.1:${port[$n]}"
  reconnect-delay: "100ms"
  demote-delay: "1s"
  etcd:
    endpoints: ["http://127.0.0.1:$((PORT + 10))"]
    key: "/litefs/bench/primary"
    ttl: "${TTL}s"
YML
  start_config_node "$n" "$WORK/$n/litefs.yml"
done

primary() { # the node whose /info says it is primary (empty while none)
  for n in "${NODES[@]}"; do
    curl -fsS --max-time 1 "http://127.0.0.1:${port[$n]}/info" 2>/dev/null | grep -q '"isPrimary": *true' && { echo "$n"; return; }
  done
  true
}
wait_primary() {
  for _ in $(seq 1 600); do p=$(primary); [ -n "$p" ] && { echo "$p"; return; }; sleep 0.05; done
  echo "no primary" >&2; exit 1
}
converge() { # until every node shows the primary's position
  local p; p=$(wait_primary)
  local want; want=$(cat "$WORK/$p/mnt/app.db-pos")
  for n in "${NODES[@]}"; do wait_pos "$WORK/$n/mnt/app.db-pos" "$want"; done
}
first_write() { # killed-node start-time: tries an INSERT on every other node until one takes it; prints seconds
  local gone=$1 t0=$2
  for _ in $(seq 1 2000); do
    for n in "${NODES[@]}"; do
      [ "$n" = "$gone" ] && continue
      if sqlite3 "$WORK/$n/mnt/app.db" "INSERT INTO t(v) VALUES ('$n');" 2>/dev/null; then
        python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$t0" "$(now)"
        echo "$n" >"$WORK/taker"
        return
      fi
    done
  done
  echo "no node took a write" >&2; exit 1
}
restart() { # name: after a SIGKILL (stale mount) or a clean exit
  wait "${pid[$1]}" 2>/dev/null || true
  grep -qs " $WORK/$1/mnt " /proc/mounts && umount -l "$WORK/$1/mnt"
  start_config_node "$1" "$WORK/$1/litefs.yml"
}

p=$(wait_primary)
sqlite3 "$WORK/$p/mnt/app.db" "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);" >/dev/null
converge

measure() { # signal: RUNS times, prints one duration per line into $WORK/<signal>.txt
  local sig=$1 out="$WORK/$1.txt"
  : >"$out"
  for i in $(seq 1 "$RUNS"); do
    converge
    local p; p=$(wait_primary)
    local t0; t0=$(now)
    kill -"$sig" "${pid[$p]}"
    first_write "$p" "$t0" >>"$out"
    restart "$p"
    printf '.' >&2
  done
  echo >&2
}
stats() { # file label
  python3 - "$1" "$2" "$TTL" <<'PY'
import statistics, sys
xs = sorted(float(x) for x in open(sys.argv[1]).read().split())
label, ttl = sys.argv[2], float(sys.argv[3])
p = lambda q: xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]
print(f"{label:<10} runs {len(xs):3d}  p50 {p(0.5) * 1000:7.0f} ms  p95 {p(0.95) * 1000:7.0f} ms  max {xs[-1] * 1000:7.0f} ms"
      f"  p50/ttl {p(0.5) / ttl:5.2f}  p95/ttl {p(0.95) / ttl:5.2f}")
PY
}

echo "== failover: SIGKILL of the primary -> first write accepted elsewhere (ttl ${TTL}s)"
measure KILL
echo "== handoff: SIGTERM of the primary -> first write accepted elsewhere"
measure TERM
stats "$WORK/KILL.txt" failover
stats "$WORK/TERM.txt" handoff
