#!/usr/bin/env bash
# A walk through the LTX tools: builds the litefs command and takes a sample SQLite
# database through the LTX tools — snapshot it into an LTX file, verify and dump that file,
# rebuild the database from it, and compare checksums.
set -euo pipefail
cd "$(dirname "$0")/.."
db="${1:-samples/app.db}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "== litefs ltx checksum $db"
sum=$(./litefs ltx checksum "$db")
echo "$sum"
echo
echo "== litefs ltx encode-db $db -o snapshot.ltx -compress"
./litefs ltx encode-db "$db" -o "$work/snapshot.ltx" -compress -txid 1
echo
echo "== litefs ltx verify snapshot.ltx"
./litefs ltx verify "$work/snapshot.ltx"
echo
echo "== litefs ltx dump snapshot.ltx (first lines)"
./litefs ltx dump "$work/snapshot.ltx" | head -n 16
echo
echo "== litefs ltx apply -o rebuilt.db snapshot.ltx"
./litefs ltx apply -o "$work/rebuilt.db" "$work/snapshot.ltx"
rebuilt=$(./litefs ltx checksum "$work/rebuilt.db")
if [ "$rebuilt" = "$sum" ] && cmp -s "$db" "$work/rebuilt.db"; then
  echo "rebuilt database is byte-identical (checksum $rebuilt)"
else
  echo "rebuilt database differs: checksum $rebuilt, want $sum" >&2
  exit 1
fi
