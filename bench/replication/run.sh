#!/usr/bin/env bash
# Replication benchmark, run on demand (not part of ./test.sh). On one machine, over loopback:
#   1. primary write throughput (single-row INSERT, WAL+NORMAL, as fast as possible, SECONDS s)
#      with no replica, then with two replicas attached: same run, same primary;
#   2. replication lag at RATE tx/s for SECONDS s: commit on the primary (end of COMMIT) to the
#      replica announcing that TXID applied on its /events stream, p50/p99/max per replica, with
#      the primary's own commit latency in the same run as the baseline;
#   3. snapshot of a SNAPSHOT_MIB MiB database of incompressible data to a new replica (start to
#      caught up), against `cp` + sync of the same database file on the same disk.
# usage: bench/replication/run.sh [RATE [SNAPSHOT_MIB]]   (as root; env SECONDS_RUN, BENCH_TMP, KEEP_WORK=1)
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
RATE=${1:-1000}
SNAPSHOT_MIB=${2:-1024}
SECONDS_RUN=${SECONDS_RUN:-10}
PORT=${BENCH_PORT:-21202}
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/litefs-repl-bench-XXXXXX")
lag="$root/bench/replication/lag.py"

# shellcheck source=../nodes.sh
. bench/nodes.sh
./litefs version >/dev/null
cpu_ms() { # pid: user+system CPU time so far, in ms
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"
}
primary_url="http://127.0.0.1:$PORT"
start_node primary "$PORT"
P="$WORK/primary/mnt"

echo "== 1. primary write throughput (${SECONDS_RUN} s each)"
echo -n "no replica:   "; python3 "$lag" write "$P/w0.db" "$SECONDS_RUN" 0 "$WORK/w0.txt"
start_node replica1 $((PORT + 1)) "$primary_url"
start_node replica2 $((PORT + 2)) "$primary_url"
echo -n "two replicas: "; python3 "$lag" write "$P/w2.db" "$SECONDS_RUN" 0 "$WORK/w2.txt"

echo "== 2. lag at $RATE tx/s for ${SECONDS_RUN} s"
sqlite3 "$P/lag.db" "PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);" >/dev/null
# Warm-up at the same rate (not measured): the nodes' code paths compiled, the LTX file pools filled.
echo -n "warm-up: "; python3 "$lag" write "$P/lag.db" 2 "$RATE" /dev/null
wait_pos "$WORK/replica1/mnt/lag.db-pos" "$(cat "$P/lag.db-pos")"
wait_pos "$WORK/replica2/mnt/lag.db-pos" "$(cat "$P/lag.db-pos")"
base=$(cut -c1-16 "$P/lag.db-pos")
limit=$(( 16#$base + RATE * SECONDS_RUN + RATE )) # a writer may go a little past RATE * SECONDS_RUN
c0p=$(cpu_ms "${pid[primary]}"); c0r1=$(cpu_ms "${pid[replica1]}"); c0r2=$(cpu_ms "${pid[replica2]}")
python3 "$lag" watch "http://127.0.0.1:$((PORT + 1))" lag.db "$limit" "$WORK/seen1.txt" & w1=$!
python3 "$lag" watch "http://127.0.0.1:$((PORT + 2))" lag.db "$limit" "$WORK/seen2.txt" & w2=$!
sleep 0.5 # both watchers subscribed before the first commit
echo -n "primary: "; python3 "$lag" write "$P/lag.db" "$SECONDS_RUN" "$RATE" "$WORK/commits.txt"
final=$(cut -c1-16 "$P/lag.db-pos")
c1p=$(cpu_ms "${pid[primary]}"); c1r1=$(cpu_ms "${pid[replica1]}"); c1r2=$(cpu_ms "${pid[replica2]}")
# A watcher stops at the limit; otherwise (the usual case) it is stopped once both replicas caught up.
wait_pos "$WORK/replica1/mnt/lag.db-pos" "$(cat "$P/lag.db-pos")"; wait_pos "$WORK/replica2/mnt/lag.db-pos" "$(cat "$P/lag.db-pos")"
sleep 0.5; kill -TERM $w1 $w2 2>/dev/null || true; wait $w1 $w2 2>/dev/null || true
python3 "$lag" report "$WORK/commits.txt" "$WORK/seen1.txt" "$WORK/seen2.txt"
ntx=$(( 16#$final - 16#$base ))
echo "CPU per transaction while writing (node processes):" \
  "primary $(( (c1p - c0p) * 1000 / ntx )) us, replica1 $(( (c1r1 - c0r1) * 1000 / ntx )) us, replica2 $(( (c1r2 - c0r2) * 1000 / ntx )) us"

echo "== 3. snapshot of $SNAPSHOT_MIB MiB to a new replica"
sqlite3 "$P/big.db" "PRAGMA journal_mode=WAL; CREATE TABLE b (v BLOB);" >/dev/null
for _ in $(seq 1 $((SNAPSHOT_MIB / 64))); do
  sqlite3 "$P/big.db" "INSERT INTO b SELECT randomblob(4000) FROM generate_series(1, 16384);" >/dev/null 2>&1 \
    || sqlite3 "$P/big.db" "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 16384) INSERT INTO b SELECT randomblob(4000) FROM c;" >/dev/null
done
sqlite3 "$P/big.db" "PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
db="$WORK/primary/data/dbs/big.db/database"
size=$(stat -c %s "$db")
sync
t0=$(date +%s.%N); cp "$db" "$WORK/copy.db"; sync "$WORK/copy.db"; t1=$(date +%s.%N)
rm -f "$WORK/copy.db"
t2=$(date +%s.%N)
start_node replica3 $((PORT + 3)) "$primary_url"
wait_pos "$WORK/replica3/mnt/big.db-pos" "$(cat "$P/big.db-pos")"
t3=$(date +%s.%N)
python3 - "$size" "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
size, t0, t1, t2, t3 = int(sys.argv[1]), *map(float, sys.argv[2:])
mib = size / 2**20
cp, snap = t1 - t0, t3 - t2
print(f"database {mib:.0f} MiB; cp+sync {cp:.2f} s = {mib / cp:.0f} MiB/s; snapshot to a new replica (node start included) "
      f"{snap:.2f} s = {mib / snap:.0f} MiB/s = {size / snap / 1e6:.0f} MB/s; ratio {cp / snap:.2f}x of cp")
PY
