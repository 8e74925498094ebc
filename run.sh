#!/usr/bin/env bash
# The main job on a fresh machine: builds litefs and runs a local cluster on the built-in
# configuration (no litefs.yml needed): a primary and two replicas on 127.0.0.1, each with its
# own data directory and mount under $LITEFS_DEV_DIR (default ./.litefs-dev). Ctrl-C stops all
# three and removes their mounts.
set -euo pipefail
cd "$(dirname "$0")"
root="${LITEFS_DEV_DIR:-$PWD/.litefs-dev}"
port="${LITEFS_DEV_PORT:-20202}"
if ! command -v fusermount3 >/dev/null || ! command -v sqlite3 >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq fuse3 sqlite3 >/dev/null
  else
    echo "run.sh: install fuse3 and sqlite3 first (apt-get install fuse3 sqlite3)" >&2
    exit 1
  fi
fi
mkdir -p "$root"
./litefs version >/dev/null   # build once, before three nodes start

pids=()
stop() {
  trap - INT TERM
  echo "stopping the cluster"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  exit 0
}
trap stop INT TERM

primary="http://127.0.0.1:$port"
./litefs mount -dev "$root/primary" -dev-port "$port" > >(sed -u 's/^/[primary]  /') 2>&1 &
pids+=($!)
for i in 1 2; do
  ./litefs mount -dev "$root/replica$i" -dev-port "$((port + i))" -dev-primary "$primary" > >(sed -u "s/^/[replica$i] /") 2>&1 &
  pids+=($!)
done

# Ready when every node is mounted and both replicas are attached to the primary.
for _ in $(seq 1 600); do
  if [ -e "$root/replica1/mnt/.primary" ] && [ -e "$root/replica2/mnt/.primary" ] && grep -qs " $root/primary/mnt " /proc/mounts; then
    break
  fi
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then echo "run.sh: a node exited during start-up" >&2; stop; fi
  done
  sleep 0.1
done

cat <<TXT

LiteFS cluster ready: primary at $primary, replicas on ports $((port + 1)) and $((port + 2)).
In another terminal try:

  sqlite3 $root/primary/mnt/app.db "CREATE TABLE IF NOT EXISTS t (v); INSERT INTO t VALUES ('hello');"
  sqlite3 $root/replica1/mnt/app.db "SELECT * FROM t;"      # replicated
  cat $root/replica2/mnt/app.db-pos                         # the replica's position
  sqlite3 $root/replica1/mnt/app.db "INSERT INTO t VALUES ('x');"   # refused: writes go to the primary
  ./litefs ltx list $root/primary/data/dbs/app.db/ltx/*.ltx  # the transactions, as LTX files

Press Ctrl-C to stop all three nodes (their mounts are removed).
TXT
wait
