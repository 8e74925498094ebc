#!/usr/bin/env bash
# Write-forwarding benchmark, run on demand (not part of ./test.sh). On one machine, over loopback,
# a primary and a replica (`litefs mount -dev`), measured in the same run:
#   1. single-row INSERT transactions in one sqlite3 session, N of them: on the primary (the
#      baseline), then on the replica under the HALT lock (`litefs run -with-halt-lock-on`), where
#      each commit is forwarded to the primary before it returns; for each journal mode given;
#   2. import of a SIZE_MIB MiB database through the primary, and its export from the replica,
#      against `cp` + sync of the same file on the same disk.
# usage: bench/forwarding/run.sh [N [SIZE_MIB]]   (as root; env BENCH_TMP, BENCH_PORT, MODES, KEEP_WORK=1)
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
N=${1:-2000}
SIZE_MIB=${2:-256}
MODES=${MODES:-"wal delete"}
PORT=${BENCH_PORT:-21302}
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/litefs-fwd-bench-XXXXXX")

# shellcheck source=../nodes.sh
. bench/nodes.sh
./litefs version >/dev/null
inserts() { # count: a sqlite3 script of that many single-row transactions
  awk -v n="$1" 'BEGIN { print ".timeout 10000"; for (i = 1; i <= n; i++) printf "INSERT INTO t(v) VALUES (%d);\n", i }'
}
now() { date +%s.%N; }

P="$WORK/primary/mnt"; R="$WORK/replica/mnt"
start_node primary "$PORT"
start_node replica $((PORT + 1)) "http://127.0.0.1:$PORT"

echo "== 1. $N single-row INSERT transactions, one sqlite3 session"
printf "%-8s %14s %22s %8s\n" mode "primary tx/s" "replica (HALT) tx/s" ratio
for mode in $MODES; do
  sqlite3 "$P/$mode.db" "PRAGMA journal_mode=$mode; CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER);" >/dev/null
  inserts 200 | sqlite3 "$P/$mode.db" >/dev/null # warm-up
  wait_pos "$R/$mode.db-pos" "$(cat "$P/$mode.db-pos")"
  t0=$(now); inserts "$N" | sqlite3 "$P/$mode.db" >/dev/null; t1=$(now)
  wait_pos "$R/$mode.db-pos" "$(cat "$P/$mode.db-pos")"
  t2=$(now)
  inserts "$N" | ./litefs run -url "http://127.0.0.1:$((PORT + 1))" -with-halt-lock-on "$R/$mode.db" -- sqlite3 "$R/$mode.db" >/dev/null
  t3=$(now)
  python3 - "$N" "$mode" "$t0" "$t1" "$t2" "$t3" <<'PY'
import sys
n, mode, t0, t1, t2, t3 = int(sys.argv[1]), sys.argv[2], *map(float, sys.argv[3:])
p, r = n / (t1 - t0), n / (t3 - t2)
print(f"{mode:<8} {p:14.0f} {r:22.0f} {r / p:7.2f}x")
PY
  [ "$(sqlite3 "$P/$mode.db" 'SELECT count(*) FROM t')" = $((2 * N + 200)) ] || { echo "row count differs on the primary" >&2; exit 1; }
done

echo "== 2. import and export of a $SIZE_MIB MiB database"
src="$WORK/source.db"
sqlite3 "$src" "CREATE TABLE b (v BLOB);"
for _ in $(seq 1 $((SIZE_MIB / 64))); do
  sqlite3 "$src" "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 16384) INSERT INTO b SELECT randomblob(4000) FROM c;"
done
size=$(stat -c %s "$src"); sync
t0=$(now); cp "$src" "$WORK/copy.db"; sync "$WORK/copy.db"; t1=$(now); rm -f "$WORK/copy.db"
t2=$(now); ./litefs import -url "http://127.0.0.1:$PORT" -name big.db "$src" >/dev/null; t3=$(now)
wait_pos "$R/big.db-pos" "$(cat "$P/big.db-pos")"; t4=$(now)
t5=$(now); ./litefs export -url "http://127.0.0.1:$((PORT + 1))" -name big.db "$WORK/exported.db" >/dev/null; t6=$(now)
python3 - "$size" "$t0" "$t1" "$t2" "$t3" "$t4" "$t5" "$t6" <<'PY'
import sys
size, t0, t1, t2, t3, t4, t5, t6 = int(sys.argv[1]), *map(float, sys.argv[2:])
mib = size / 2**20
cp = mib / (t1 - t0)
print(f"database {mib:.0f} MiB; cp+sync {cp:.0f} MiB/s")
print(f"import (primary has it, durable):  {mib / (t3 - t2):.0f} MiB/s = {mib / (t3 - t2) / cp:.2f}x cp; replica caught up after {t4 - t2:.2f} s")
print(f"export (from the replica, synced): {mib / (t6 - t5):.0f} MiB/s = {mib / (t6 - t5) / cp:.2f}x cp")
PY
