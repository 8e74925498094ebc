#!/usr/bin/env bash
# Large-transaction benchmark, run on demand (not part of ./test.sh). On one disk, in the same run:
#   1. one SIZE_MIB MiB transaction (one INSERT ... SELECT of 4,000-byte random blobs) through the
#      sqlite3 shell, for each journal mode given: on the bare disk, then through a LiteFS primary
#      (`litefs mount -dev`, a fresh node per mode). Reported: the time until sqlite3 returns (its
#      checkpoint included, in WAL mode), the time until the node has recorded the transaction
#      (its -pos file shows it), their ratios against the bare disk, and the node's peak resident
#      memory (VmHWM) over the whole run;
#   2. a snapshot of that database to a new replica: the time until the replica has it, against
#      cp + sync of the file, and the peak resident memory of the primary (restarted first, so
#      its peak is the snapshot's) and of the replica.
# usage: bench/bigtx/run.sh [SIZE_MIB]   (as root; env BENCH_TMP, BENCH_PORT, MODES, KEEP_WORK=1)
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
SIZE_MIB=${1:-1024}
MODES=${MODES:-"wal delete"}
PORT=${BENCH_PORT:-21402}
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/litefs-bigtx-bench-XXXXXX")

# shellcheck source=../nodes.sh
. bench/nodes.sh
./litefs version >/dev/null
rows=$((SIZE_MIB * 262144 / 1024))
insert="WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < $rows) INSERT INTO b SELECT randomblob(4000) FROM c;"
now() { date +%s.%N; }
hwm_mib() { awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
stop_node() { # name: SIGTERM, wait, forget
  kill -TERM "${pid[$1]}"; wait "${pid[$1]}" || true; unset "pid[$1]"
}

echo "== 1. one $SIZE_MIB MiB transaction ($rows rows of 4,000 random bytes)"
printf "%-7s %9s %11s %8s %14s %8s %14s\n" mode "bare s" "litefs s" ratio "recorded s" ratio "node peak MiB"
for mode in $MODES; do
  mkdir -p "$WORK/bare-$mode"
  sqlite3 "$WORK/bare-$mode/big.db" "PRAGMA journal_mode=$mode; CREATE TABLE b (v BLOB);" >/dev/null
  sync
  t0=$(now); sqlite3 "$WORK/bare-$mode/big.db" "$insert"; t1=$(now)
  rm -rf "$WORK/bare-$mode"

  start_node "node-$mode" "$PORT"
  db="$WORK/node-$mode/mnt/big.db"
  sqlite3 "$db" "PRAGMA journal_mode=$mode; CREATE TABLE b (v BLOB);" >/dev/null
  before=$(cat "$db-pos")
  sync
  t2=$(now); sqlite3 "$db" "$insert"; t3=$(now)
  for _ in $(seq 1 12000); do [ "$(cat "$db-pos")" != "$before" ] && break; sleep 0.01; done
  t4=$(now)
  peak=$(hwm_mib "${pid[node-$mode]}")
  [ "$(sqlite3 "$db" 'SELECT count(*) FROM b')" = "$rows" ] || { echo "row count differs" >&2; exit 1; }
  python3 - "$mode" "$t0" "$t1" "$t2" "$t3" "$t4" "$peak" <<'PY'
import sys
mode, t0, t1, t2, t3, t4, peak = sys.argv[1], *map(float, sys.argv[2:7]), sys.argv[7]
bare, fs, rec = t1 - t0, t3 - t2, t4 - t2
print(f"{mode:<7} {bare:9.1f} {fs:11.1f} {fs / bare:7.2f}x {rec:14.1f} {rec / bare:7.2f}x {peak:>14}")
PY
  last=$mode
  if [ "$mode" != "${MODES##* }" ]; then stop_node "node-$mode"; rm -rf "${WORK:?}/node-$mode"; fi
done

echo "== 2. snapshot of the $SIZE_MIB MiB database to a new replica"
stop_node "node-$last"
start_node "node-$last" "$PORT"
P="$WORK/node-$last/mnt"
file="$WORK/node-$last/data/dbs/big.db/database"
sync
t0=$(now); cp "$file" "$WORK/copy.db"; sync "$WORK/copy.db"; t1=$(now); rm -f "$WORK/copy.db"
t2=$(now)
start_node replica $((PORT + 1)) "http://127.0.0.1:$PORT"
wait_pos "$WORK/replica/mnt/big.db-pos" "$(cat "$P/big.db-pos")"
t3=$(now)
primary_peak=$(hwm_mib "${pid[node-$last]}"); replica_peak=$(hwm_mib "${pid[replica]}")
[ "$(sqlite3 "$WORK/replica/mnt/big.db" 'SELECT count(*) FROM b')" = "$rows" ] || { echo "replica row count differs" >&2; exit 1; }
python3 - "$t0" "$t1" "$t2" "$t3" "$primary_peak" "$replica_peak" "$(stat -c %s "$file")" <<'PY'
import sys
t0, t1, t2, t3 = map(float, sys.argv[1:5])
cp, snap = t1 - t0, t3 - t2
print(f"database {int(sys.argv[7]) / 2**20:.0f} MiB: cp+sync {cp:.1f} s, replica caught up in {snap:.1f} s ({snap / cp:.2f}x cp); "
      f"peak RSS primary {sys.argv[5]} MiB, replica {sys.argv[6]} MiB")
PY
