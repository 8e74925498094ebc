#!/usr/bin/env bash
# End-to-end FUSE benchmark, run on demand (not part of ./test.sh). Measures SQLite through the
# sqlite3 shell on:
#   bare          the underlying directory, no FUSE
#   litefs        the LiteFs.Fuse loopback (bench/LiteFs.Fuse.Loopback), locks delivered to the FS
#   litefs-pt     the same with FUSE passthrough (kernel serves file I/O from the backing file)
#   litefs-kl     the loopback with POSIX locks kept in the kernel (--kernel-locks), as passthrough_ll does
#   litefs-pt-kl  passthrough and kernel locks
#   passthrough_ll  libfuse's C low-level passthrough example (built here from libfuse3-dev); it does
#                 not implement locks, so the kernel keeps them locally
# Every fcntl lock SQLite takes is a FUSE round trip when locks are delivered to the file system
# (the default, which LiteFS needs); the -kl rows show what that costs.
# Workloads: single-row INSERT transactions in WAL+NORMAL and DELETE+FULL, and point SELECTs on a
# warm cache (autocommit, one read transaction per statement). Each figure is the median of RUNS runs.
#
# usage: bench/fuse/run.sh   (as root; env: WAL_TX, DELETE_TX, READS, ROWS, RUNS, WORK)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

WAL_TX=${WAL_TX:-5000}
DELETE_TX=${DELETE_TX:-1000}
READS=${READS:-20000}
ROWS=${ROWS:-100000}
RUNS=${RUNS:-3}
WORK=${WORK:-$(mktemp -d /tmp/litefs-fuse-bench-XXXXXX)}

if [ "$(id -u)" -ne 0 ]; then
  echo "run.sh: run as root (mount(2), passthrough)" >&2
  exit 1
fi
examples=/usr/share/doc/libfuse3-dev/examples
if [ ! -f "$examples/passthrough_ll.c" ] || ! command -v sqlite3 >/dev/null || ! command -v gcc >/dev/null; then
  echo "run.sh: installing libfuse3-dev sqlite3 gcc pkg-config" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq libfuse3-dev sqlite3 gcc pkg-config >/dev/null
fi

mkdir -p "$WORK/bin"
echo "building passthrough_ll and the loopback tool..." >&2
# shellcheck disable=SC2046
gcc -O2 -Wall -o "$WORK/bin/passthrough_ll" "$examples/passthrough_ll.c" $(pkg-config fuse3 --cflags --libs)
dotnet build "$root/bench/LiteFs.Fuse.Loopback/LiteFs.Fuse.Loopback.csproj" -c Release --nologo -v quiet -o "$WORK/bin/loopback" >/dev/null

server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if grep -q " $WORK/mnt " /proc/mounts; then umount -l "$WORK/mnt" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

wait_mounted() {
  for _ in $(seq 1 200); do
    if grep -q " $WORK/mnt fuse" /proc/mounts; then return 0; fi
    sleep 0.05
  done
  echo "run.sh: $1 did not mount" >&2
  return 1
}

# mount TARGET: makes $WORK/mnt show $WORK/src through TARGET; sets $dir to where to work.
mount_target() {
  rm -rf "$WORK/src" && mkdir -p "$WORK/src" "$WORK/mnt"
  server_pid=""
  case "$1" in
    bare) dir="$WORK/src"; return ;;
    litefs) dotnet "$WORK/bin/loopback/litefs-loopback.dll" "$WORK/src" "$WORK/mnt" >/dev/null & server_pid=$! ;;
    litefs-pt) dotnet "$WORK/bin/loopback/litefs-loopback.dll" "$WORK/src" "$WORK/mnt" --passthrough >/dev/null & server_pid=$! ;;
    litefs-kl) dotnet "$WORK/bin/loopback/litefs-loopback.dll" "$WORK/src" "$WORK/mnt" --kernel-locks >/dev/null & server_pid=$! ;;
    litefs-pt-kl) dotnet "$WORK/bin/loopback/litefs-loopback.dll" "$WORK/src" "$WORK/mnt" --passthrough --kernel-locks >/dev/null & server_pid=$! ;;
    passthrough_ll) "$WORK/bin/passthrough_ll" -f -o source="$WORK/src" "$WORK/mnt" & server_pid=$! ;;
  esac
  wait_mounted "$1"
  dir="$WORK/mnt"
}

unmount_target() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    if grep -q " $WORK/mnt " /proc/mounts; then umount "$WORK/mnt"; fi
  fi
}

now() { date +%s%N; }

# rate COUNT START END -> operations per second
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / ((b - a) / 1e9) }'; }

median() { tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

inserts_script() { # JOURNAL SYNC COUNT
  printf 'PRAGMA journal_mode=%s;\nPRAGMA synchronous=%s;\n' "$1" "$2"
  printf 'CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB);\n'
  awk -v n="$3" 'BEGIN { for (i = 0; i < n; i++) print "INSERT INTO t (v) VALUES (randomblob(100));" }'
}

reads_script() { # COUNT
  awk -v n="$1" -v rows="$ROWS" 'BEGIN { srand(7); for (i = 0; i < n; i++) printf "SELECT length(v) FROM t WHERE id = %d;\n", 1 + int(rand() * rows) }'
}

bench_inserts() { # DIR JOURNAL SYNC COUNT
  rm -f "$1"/w.db "$1"/w.db-*
  inserts_script "$2" "$3" 10 | sqlite3 "$1/w.db" >/dev/null
  local script; script=$(inserts_script "$2" "$3" "$4")
  local start end
  start=$(now); printf '%s\n' "$script" | sqlite3 "$1/w.db" >/dev/null; end=$(now)
  rate "$4" "$start" "$end"
}

bench_reads() { # DIR
  rm -f "$1"/r.db "$1"/r.db-*
  { printf 'PRAGMA journal_mode=WAL;\nCREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);\nBEGIN;\n'
    awk -v n="$ROWS" 'BEGIN { for (i = 0; i < n; i++) print "INSERT INTO t (v) VALUES (randomblob(100));" }'
    printf 'COMMIT;\nPRAGMA wal_checkpoint(TRUNCATE);\n'; } | sqlite3 "$1/r.db" >/dev/null
  local script; script=$(reads_script "$READS")
  cat "$1/r.db" >/dev/null # warm the page cache
  printf '%s\n' "$script" | sqlite3 "$1/r.db" >/dev/null # and SQLite's first touch
  local start end
  start=$(now); printf '%s\n' "$script" | sqlite3 "$1/r.db" >/dev/null; end=$(now)
  rate "$READS" "$start" "$end"
}

declare -A result
targets=(bare litefs litefs-pt litefs-kl litefs-pt-kl passthrough_ll)
for target in "${targets[@]}"; do
  echo "measuring $target..." >&2
  wal=() del=() rd=()
  mount_target "$target"
  for _ in $(seq 1 "$RUNS"); do
    wal+=("$(bench_inserts "$dir" WAL NORMAL "$WAL_TX")")
    del+=("$(bench_inserts "$dir" DELETE FULL "$DELETE_TX")")
    rd+=("$(bench_reads "$dir")")
  done
  unmount_target
  result[$target,wal]=$(echo "${wal[*]}" | median)
  result[$target,del]=$(echo "${del[*]}" | median)
  result[$target,rd]=$(echo "${rd[*]}" | median)
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "SQLite through the sqlite3 shell; median of $RUNS runs; kernel $(uname -r), $(nproc) cores"
printf '%-16s %14s %14s %16s\n' target "WAL+NORMAL tx/s" "DELETE+FULL tx/s" "warm reads/s"
for target in "${targets[@]}"; do
  printf '%-16s %14s %14s %16s\n' "$target" "${result[$target,wal]}" "${result[$target,del]}" "${result[$target,rd]}"
done
echo
for target in litefs litefs-pt litefs-kl litefs-pt-kl; do
  printf '%-12s writes vs passthrough_ll: WAL %sx, DELETE %sx; warm reads vs bare: %sx\n' "$target" \
    "$(ratio "${result[$target,wal]}" "${result[passthrough_ll,wal]}")" \
    "$(ratio "${result[$target,del]}" "${result[passthrough_ll,del]}")" \
    "$(ratio "${result[$target,rd]}" "${result[bare,rd]}")"
done
