#!/usr/bin/env bash
# The main job on a fresh machine: builds litefs and runs a primary node on the built-in
# configuration (no litefs.yml needed). Its databases appear under $LITEFS_DEV_DIR/mnt (default
# ./.litefs-dev/mnt); Ctrl-C stops the node and unmounts.
set -euo pipefail
cd "$(dirname "$0")"
root="${LITEFS_DEV_DIR:-$PWD/.litefs-dev}"
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
cat <<TXT
Starting a LiteFS primary; once it says "LiteFS mounted", in another terminal try:

  sqlite3 $root/mnt/app.db "CREATE TABLE IF NOT EXISTS t (v); INSERT INTO t VALUES ('hello'); SELECT * FROM t;"
  cat $root/mnt/app.db-pos                      # the replication position
  ./litefs ltx list $root/data/dbs/app.db/ltx/*.ltx   # one LTX file per transaction

Press Ctrl-C to stop (the mount is removed).
TXT
exec ./litefs mount -dev "$root"
