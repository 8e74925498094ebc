#!/usr/bin/env bash
# LiteFS mount benchmark, run on demand (not part of ./test.sh). Measures single-row INSERT
# transactions through the sqlite3 shell, in WAL+NORMAL and DELETE+FULL, on:
#   bare      the underlying directory, no FUSE
#   loopback  the LiteFs.Fuse loopback (bench/LiteFs.Fuse.Loopback) on its default settings: POSIX
#             locks delivered to the file system, as LiteFS needs
#   litefs    a LiteFS primary (`litefs mount -dev DIR`): every commit also becomes an LTX file
# The three are measured in the same run, interleaved run by run (all mounts up at once) so that
# background load hits them alike; each figure is the median of RUNS runs. The table gives the
# ratios against bare and against loopback.
#
# Then a breakdown of one commit, per transaction, for loopback and litefs (bare for the client):
#   - FUSE requests by opcode, from the servers' debug logs (litefs `-fuse.debug -debug`, loopback
#     --debug), counting the "<- OPCODE" request lines;
#   - the server's syscalls (fsync, rename, openat, pwrite64, ...), `strace -f -c -w -p` attached to it;
#   - the client's syscalls (sqlite3 under `strace -c -w`): count and wall time each; on a FUSE mount
#     a syscall's time is its round trip through the server;
#   - LTX files written.
# Each per-transaction figure is (session of BREAK_LARGE tx - session of BREAK_SMALL tx) divided by
# the difference, which cancels what opening and closing the database costs. strace slows every
# syscall it sees (tens of µs each), so its times are for comparing syscalls with each other; the
# clean latency per transaction is the one from the throughput table.
#
# usage: bench/mount/run.sh   (as root; env: WAL_TX, DELETE_TX, RUNS, BREAK_SMALL, BREAK_LARGE,
#        BENCH_TMP (parent of the work directory, default /tmp), KEEP_WORK=1 (keep logs and summaries))
set -Eeuo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/../.."
root=$(pwd)

WAL_TX=${WAL_TX:-5000}
DELETE_TX=${DELETE_TX:-1000}
RUNS=${RUNS:-3}
BREAK_SMALL=${BREAK_SMALL:-50}
BREAK_LARGE=${BREAK_LARGE:-250}
# The work directory decides the file system under test (fsync cost): /tmp here, not a tmpfs.
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/litefs-mount-bench-XXXXXX")

if [ "$(id -u)" -ne 0 ]; then
  echo "run.sh: run as root (mount(2), strace -p)" >&2
  rm -rf "$WORK"
  exit 1
fi

# --- cleanup: everything started here is tracked by PID ---------------------------------------
declare -A server_pid=()  # target -> server PID
declare -A server_mnt=()  # target -> mount point
strace_pids=()
cleanup() {
  local rc=$?
  set +e
  for p in "${strace_pids[@]}"; do kill -INT "$p" 2>/dev/null; done
  for p in "${strace_pids[@]}"; do wait "$p" 2>/dev/null; done
  for t in "${!server_pid[@]}"; do stop_server "$t"; done
  if grep -q " $WORK/" /proc/mounts; then
    echo "run.sh: mounts left under $WORK, not removing it:" >&2
    grep " $WORK/" /proc/mounts >&2
  elif [ "${KEEP_WORK:-0}" = 1 ]; then
    echo "run.sh: kept $WORK (logs, strace summaries, databases)" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "run.sh: line $LINENO failed: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# stop_server TARGET: SIGTERM (both servers unmount on it), SIGKILL after 15 s, then a lazy unmount
# if the mount outlived its server.
stop_server() {
  local t=$1 pid=${server_pid[$1]:-} mnt=${server_mnt[$1]:-}
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "run.sh: $t server (pid $pid) ignored SIGTERM; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  fi
  if [ -n "$mnt" ] && grep -q " $mnt " /proc/mounts; then umount -l "$mnt" || true; fi
  unset "server_pid[$t]" "server_mnt[$t]"
}

# --- tools --------------------------------------------------------------------------------------
need=()
command -v sqlite3 >/dev/null || need+=(sqlite3)
command -v strace >/dev/null || need+=(strace)
command -v fusermount3 >/dev/null || need+=(fuse3)
if [ ${#need[@]} -gt 0 ]; then
  echo "run.sh: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "building the loopback tool and litefs (into $WORK)..." >&2
# Their own artifacts folder: never shares intermediate files with a concurrent build or test run.
build() { # PROJECT OUT
  local log="$WORK/build.log"
  if ! dotnet build "$1" -c Release --nologo -v quiet -o "$2" -p:ArtifactsPath="$WORK/artifacts" >"$log" 2>&1; then
    cat "$log" >&2
    echo "run.sh: build of $1 failed" >&2
    return 1
  fi
}
build "$root/bench/LiteFs.Fuse.Loopback/LiteFs.Fuse.Loopback.csproj" "$WORK/bin/loopback"
build "$root/src/LiteFs.Cli/LiteFs.Cli.csproj" "$WORK/bin/cli"

# start_server TARGET DEBUG(0|1): mounts TARGET fresh; sets $dir to the directory to work in.
start_server() {
  local t=$1 debug=$2 mnt pid log="$WORK/$1.log"
  case "$t" in
    bare)
      rm -rf "$WORK/bare" && mkdir -p "$WORK/bare"
      dir="$WORK/bare"
      return ;;
    loopback)
      rm -rf "$WORK/src" && mkdir -p "$WORK/src" "$WORK/mnt"
      mnt="$WORK/mnt"
      local flags=(); [ "$debug" = 1 ] && flags=(--debug)
      dotnet "$WORK/bin/loopback/litefs-loopback.dll" "$WORK/src" "$mnt" "${flags[@]}" >"$log.out" 2>"$log" &
      pid=$! ;;
    litefs)
      rm -rf "$WORK/node" && mkdir -p "$WORK/node"
      mnt="$WORK/node/mnt"
      local flags=(); [ "$debug" = 1 ] && flags=(-fuse.debug -debug)
      dotnet "$WORK/bin/cli/litefs.dll" mount -dev "$WORK/node" "${flags[@]}" >"$log.out" 2>"$log" &
      pid=$! ;;
  esac
  server_pid[$t]=$pid
  server_mnt[$t]=$mnt
  for _ in $(seq 1 400); do
    if grep -q " $mnt fuse" /proc/mounts; then dir=$mnt; return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.05
  done
  echo "run.sh: $t did not mount; its output:" >&2
  cat "$log.out" "$log" >&2
  return 1
}

now() { date +%s%N; }

median() { tr ' ' '\n' | awk 'NF' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

inserts_script() { # JOURNAL SYNC COUNT
  printf 'PRAGMA journal_mode=%s;\nPRAGMA synchronous=%s;\n' "$1" "$2"
  printf 'CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB);\n'
  awk -v n="$3" 'BEGIN { for (i = 0; i < n; i++) print "INSERT INTO t (v) VALUES (randomblob(100));" }'
}

# prepare DB JOURNAL SYNC: a fresh database in that mode with the table and 10 rows.
prepare() {
  rm -f "$1" "$1"-*
  inserts_script "$2" "$3" 10 | sqlite3 -bail "$1" >/dev/null
}

# check DB EXPECTED: the rows made it.
check() {
  local n; n=$(sqlite3 "$1" 'SELECT count(*) FROM t;')
  if [ "$n" != "$2" ]; then echo "run.sh: $1 has $n rows, expected $2" >&2; return 1; fi
}

# bench_inserts DIR NAME JOURNAL SYNC COUNT -> transactions per second. Each run a new database:
# nothing is deleted through the LiteFS mount.
bench_inserts() {
  local db="$1/$2.db"
  prepare "$db" "$3" "$4"
  local script; script=$(inserts_script "$3" "$4" "$5")
  local start end
  start=$(now); printf '%s\n' "$script" | sqlite3 -bail "$db" >/dev/null; end=$(now)
  check "$db" $(($5 + 10))
  awk -v n="$5" -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", n / ((b - a) / 1e9) }'
}

targets=(bare loopback litefs)
modes=(wal del)
declare -A journal=([wal]=WAL [del]=DELETE) sync=([wal]=NORMAL [del]=FULL)
declare -A count=([wal]=$WAL_TX [del]=$DELETE_TX) label=([wal]=WAL+NORMAL [del]=DELETE+FULL)
declare -A dirs=() samples=() result=()

# --- 1. throughput ------------------------------------------------------------------------------
t0=$(date +%s)
for t in "${targets[@]}"; do start_server "$t" 0; dirs[$t]=$dir; done
for run in $(seq 1 "$RUNS"); do
  for m in "${modes[@]}"; do
    for t in "${targets[@]}"; do
      echo "run $run/$RUNS: $t ${label[$m]} (${count[$m]} tx)..." >&2
      samples[$t,$m]+="$(bench_inserts "${dirs[$t]}" "$m-$run" "${journal[$m]}" "${sync[$m]}" "${count[$m]}") "
    done
  done
done
ltx_files=$(find "$WORK/node/data/dbs" -name '*.ltx' | wc -l)
for t in loopback litefs; do stop_server "$t"; done
for t in "${targets[@]}"; do
  for m in "${modes[@]}"; do result[$t,$m]=$(echo "${samples[$t,$m]}" | median); done
done
t1=$(date +%s)

# --- 2. breakdown -------------------------------------------------------------------------------
# strace_attach PID OUT: strace -c on every thread of PID until strace_detach; waits for the attach.
node_syscalls=fsync,fdatasync,sync_file_range,rename,renameat,renameat2,openat,close,unlink,unlinkat,ftruncate,fallocate,pread64,pwrite64,preadv,pwritev,write,writev,fcntl,flock,fstat,newfstatat,statx,lseek
strace_attach() {
  strace -f -c -w -e trace="$node_syscalls" -o "$2" -p "$1" 2>"$2.err" &
  strace_pids+=($!)
  for _ in $(seq 1 200); do
    if [ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$1/status")" != 0 ]; then sleep 0.3; return 0; fi
    sleep 0.05
  done
  echo "run.sh: strace did not attach to $1" >&2
  cat "$2.err" >&2
  return 1
}
strace_detach() {
  local p=${strace_pids[-1]}
  kill -INT "$p" 2>/dev/null || true # it may have ended on its own when the traced process did
  wait "$p" || true
  unset 'strace_pids[-1]'
}

# strace_table FILE -> "syscall calls usecs" lines from an strace -c summary.
strace_table() {
  awk '$1 ~ /^[0-9.]+$/ && $NF != "total" && NF >= 5 { printf "%s %s %.0f\n", $NF, $4, $2 * 1e6 }' "$1"
}
# opcode_table LOG FROM TO -> "OPCODE count" for the request lines FROM+1..TO of LOG.
opcode_table() {
  awk -v a="$2" -v b="$3" 'NR > a && NR <= b && match($0, /<- [A-Za-z0-9_]+ unique=/) {
    split(substr($0, RSTART, RLENGTH), w, " "); n[w[2]]++ } END { for (k in n) print k, n[k] }' "$1"
}

# settled_lines LOG: its line count once it stops growing (the loopback logs from a background queue).
settled_lines() {
  local a b
  b=$(wc -l <"$1")
  for _ in $(seq 1 50); do
    sleep 0.2
    a=$b; b=$(wc -l <"$1")
    [ "$a" = "$b" ] && break
  done
  echo "$b"
}

# session PASS TARGET MODE N TAG: one sqlite3 process doing N inserts on a fresh database.
#   ops: the server logs every request; count them by opcode.
#   sys: no debug log; the client runs under strace, the server (if any) has strace attached.
session() {
  local pass=$1 t=$2 m=$3 n=$4 tag=$5 out="$WORK/brk/$2.$3.$5"
  local db="${dirs[$t]}/brk-$m-$tag.db"
  prepare "$db" "${journal[$m]}" "${sync[$m]}"
  inserts_script "${journal[$m]}" "${sync[$m]}" "$n" >"$out.sql"
  local pid=${server_pid[$t]:-}
  if [ "$pass" = ops ]; then
    local from to
    from=$(settled_lines "$WORK/$t.log")
    sqlite3 -bail "$db" <"$out.sql" >/dev/null
    to=$(settled_lines "$WORK/$t.log") # RELEASE and FORGET arrive after close(2) returns
    opcode_table "$WORK/$t.log" "$from" "$to" >"$out.ops"
  else
    if [ -n "$pid" ]; then strace_attach "$pid" "$out.node"; fi
    strace -c -w -o "$out.client" sqlite3 -bail "$db" <"$out.sql" >/dev/null
    if [ -n "$pid" ]; then
      sleep 0.3
      strace_detach
      strace_table "$out.node" >"$out.nsys"
    fi
    strace_table "$out.client" >"$out.csys"
    if [ "$t" = litefs ]; then
      find "$WORK/node/data/dbs/brk-$m-$tag.db/ltx" -name '*.ltx' | wc -l >"$out.ltx"
    fi
  fi
  check "$db" $((n + 10))
}

mkdir -p "$WORK/brk"
for t in "${targets[@]}"; do
  passes=(sys); [ "$t" != bare ] && passes=(ops sys)
  for pass in "${passes[@]}"; do
    start_server "$t" "$([ "$pass" = ops ] && echo 1 || echo 0)"; dirs[$t]=$dir
    for m in "${modes[@]}"; do
      echo "breakdown ($pass): $t ${label[$m]} ($BREAK_SMALL and $BREAK_LARGE tx)..." >&2
      session "$pass" "$t" "$m" "$BREAK_SMALL" small
      session "$pass" "$t" "$m" "$BREAK_LARGE" large
    done
    stop_server "$t"
  done
done
t2=$(date +%s)

# per_tx T M EXT COLUMN -> "key value-per-tx" from the small and large sessions' tables.
per_tx() {
  local base="$WORK/brk/$1.$2"
  [ -f "$base.small.$3" ] || return 0
  awk -v col="$4" -v d=$((BREAK_LARGE - BREAK_SMALL)) '
    FNR == 1 { f++ }
    { v[$1, f] = $col; k[$1] = 1 }
    END { for (x in k) printf "%s %.2f\n", x, (v[x, 2] - v[x, 1]) / d }' "$base.small.$3" "$base.large.$3"
}

# --- report -------------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
usec() { awk -v r="$1" 'BEGIN { printf "%.0f", 1e6 / r }'; }
echo
echo "== Single-row INSERT transactions through the sqlite3 shell; median of $RUNS runs"
echo "   $(sqlite3 --version | cut -d' ' -f1-2), kernel $(uname -r), $(nproc) cores, $(df -T "$WORK" | awk 'NR == 2 { print $2 }') under $WORK"
for m in "${modes[@]}"; do
  echo
  printf '%-10s %-12s %8s %8s %8s %12s   %s\n' target "${label[$m]}" "tx/s" "µs/tx" "vs bare" "vs loopback" "runs (tx/s)"
  for t in "${targets[@]}"; do
    printf '%-10s %-12s %8s %8s %8s %12s   %s\n' "$t" "${count[$m]} tx" "${result[$t,$m]}" "$(usec "${result[$t,$m]}")" \
      "$(ratio "${result[$t,$m]}" "${result[bare,$m]}")" "$(ratio "${result[$t,$m]}" "${result[loopback,$m]}")" "${samples[$t,$m]% }"
  done
  printf '%-10s litefs adds %s µs per commit to the loopback, which adds %s µs to bare\n' "" \
    "$(awk -v a="${result[litefs,$m]}" -v b="${result[loopback,$m]}" 'BEGIN { printf "%.0f", 1e6 / a - 1e6 / b }')" \
    "$(awk -v a="${result[loopback,$m]}" -v b="${result[bare,$m]}" 'BEGIN { printf "%.0f", 1e6 / a - 1e6 / b }')"
done
echo "(LTX files written by the litefs node in these runs: $ltx_files)"

# side_by_side TITLE EXT COLUMN MIN TARGET...: one row per key whose value reaches MIN somewhere,
# one column per target and mode.
side_by_side() {
  local title=$1 ext=$2 col=$3 min=$4; shift 4
  local cols=() files=()
  for m in "${modes[@]}"; do
    for t in "$@"; do
      cols+=("$t/$m")
      local f="$WORK/brk/pt.$t.$m.$ext.$col"
      per_tx "$t" "$m" "$ext" "$col" >"$f"
      files+=("$f")
    done
  done
  echo
  echo "$title"
  { printf '%s' "-"; for c in "${cols[@]}"; do printf ' %s' "$c"; done; echo
    awk -v nf=${#files[@]} -v min="$min" '
      FNR == 1 { f++ }
      { v[$1, f] = $2; k[$1] = 1 }
      END {
        for (x in k) {
          keep = 0; line = x; total = 0
          for (i = 1; i <= nf; i++) { y = ((x, i) in v) ? v[x, i] : 0; line = line " " y; if (y >= min) keep = 1; tot[i] += y }
          if (keep) print line
        }
        line = "total"; for (i = 1; i <= nf; i++) line = line " " tot[i]; print line
      }' "${files[@]}" | sort -k$((${#files[@]} + 1)) -n -r -s | awk '$1 != "total" { print } $1 == "total" { t = $0 } END { print t }'
  } | column -t
}

echo
echo "== Breakdown per transaction: (session of $BREAK_LARGE tx - session of $BREAK_SMALL tx) / $((BREAK_LARGE - BREAK_SMALL)); wal = WAL+NORMAL, del = DELETE+FULL"
side_by_side "FUSE requests per transaction, by opcode (server debug logs)" ops 2 0.05 loopback litefs
side_by_side "Server syscalls per transaction (strace -f -c -p on the server, no debug log; write(2) = FUSE replies)" nsys 2 0.05 loopback litefs
side_by_side "Server syscall wall time per transaction, µs (under strace)" nsys 3 10 loopback litefs
side_by_side "Client (sqlite3) syscalls per transaction" csys 2 0.05 bare loopback litefs
side_by_side "Client (sqlite3) syscall wall time per transaction, µs (under strace; on FUSE = round trip)" csys 3 10 bare loopback litefs
awk '$1 == "fcntl" && $2 > 0 { printf "(strace overhead: an uncontended fcntl lock on bare takes %.0f µs per call under strace here)\n", $3 / $2 }' \
  "$WORK/brk/bare.wal.large.csys"
echo
for m in "${modes[@]}"; do
  printf 'LTX files per transaction, litefs %s: %s\n' "${label[$m]}" \
    "$(awk -v d=$((BREAK_LARGE - BREAK_SMALL)) 'FNR == 1 { f++ } { v[f] = $1 } END { printf "%.2f", (v[2] - v[1]) / d }' \
      "$WORK/brk/litefs.$m.small.ltx" "$WORK/brk/litefs.$m.large.ltx")"
done
echo
echo "throughput $((t1 - t0)) s, breakdown $((t2 - t1)) s"
