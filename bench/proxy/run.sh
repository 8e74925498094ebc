#!/usr/bin/env bash
# HTTP proxy benchmark, run on demand (not part of ./test.sh). A primary and a replica on loopback,
# each with the proxy in front of the small test application (tests/LiteFs.ProxyTestApp, over
# app.db in the node's mount), measured with wrk:
#   1. latency of small GETs at a fixed RATE req/s (10 connections, each pacing its requests with
#      wrk's delay(); Debian has no wrk2), through the proxy and to the application directly,
#      same run: p50/p99;
#   2. most GETs per second, proxy against direct (32 connections);
#   3. POSTs that insert a row: to the replica's proxy (forwarded to the primary's proxy),
#      to the primary's proxy, and to the primary's application directly;
#   4. a reference: part 1 again with nginx (Debian's nginx-light, one worker, keep-alive
#      connections to the application) in place of the proxy, to show what a native event-loop
#      proxy adds on the same machine.
# Beside each fixed-rate run through the proxy: the primary litefs process's CPU time and context
# switches per request (less disturbed by other load on the machine than the latencies are).
# usage: bench/proxy/run.sh [RATE]   (as root; env SECONDS_RUN, BENCH_TMP, KEEP_WORK=1,
#        LITEFS_BIN=dist/litefs-linux-x64 to measure the release executable,
#        PARTS="1 2 3" to choose the parts (4 is on demand), ROUNDS=2 proxy/direct pairs in parts 1 and 4)
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
RATE=${1:-1000}
SECONDS_RUN=${SECONDS_RUN:-10}
PARTS=${PARTS:-1 2 3}
ROUNDS=${ROUNDS:-2}
BASE=${BENCH_PORT:-22200}
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/litefs-proxy-bench-XXXXXX")
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

# shellcheck source=../nodes.sh
. "$root/bench/nodes.sh"

dotnet build "$root/tests/LiteFs.ProxyTestApp" -c Release --nologo -v quiet >/dev/null
app_dll="$root/.artifacts/bin/LiteFs.ProxyTestApp/release/LiteFs.ProxyTestApp.dll"
if [ -n "${LITEFS_BIN:-}" ]; then litefs=("$LITEFS_BIN"); else ./litefs version >/dev/null; litefs=("$root/litefs"); fi

# Ports: node API, proxy, application.
p_api=$BASE; p_proxy=$((BASE + 1)); p_app=$((BASE + 2))
r_api=$((BASE + 10)); r_proxy=$((BASE + 11)); r_app=$((BASE + 12))

config() { # name api proxy app candidate
  cat >"$WORK/$1.yml" <<YML
fuse:
  dir: "$WORK/$1/mnt"
data:
  dir: "$WORK/$1/data"
http:
  addr: "127.0.0.1:$2"
lease:
  type: "static"
  candidate: $5
  hostname: "primary"
  advertise-url: "http://127.0.0.1:$p_api"
proxy:
  addr: "127.0.0.1:$3"
  target: "127.0.0.1:$4"
  db: "app.db"
YML
}
start_node() { # name
  "${litefs[@]}" mount -config "$WORK/$1.yml" >"$WORK/$1.log" 2>&1 &
  pid[$1]=$!
  for _ in $(seq 1 600); do grep -q "proxy server listening" "$WORK/$1.log" && return 0; sleep 0.1; done
  echo "node $1 did not start:" >&2; cat "$WORK/$1.log" >&2; exit 1
}
start_app() { # name port
  dotnet "$app_dll" "$1" "$WORK/$1/mnt/app.db" "$2" >"$WORK/$1-app.log" 2>&1 &
  pid[$1-app]=$!
  for _ in $(seq 1 300); do curl -fsS "http://127.0.0.1:$2/node" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "application $1 did not start" >&2; cat "$WORK/$1-app.log" >&2; exit 1
}

config primary "$p_api" "$p_proxy" "$p_app" true
config replica "$r_api" "$r_proxy" "$r_app" false
start_node primary
start_app primary "$p_app"
curl -fsS -X POST --data warm "http://127.0.0.1:$p_proxy/rows" >/dev/null
start_node replica
start_app replica "$r_app"

conns=10
cat >"$WORK/pace.lua" <<LUA
-- Each connection sends one request every $((conns * 1000000 / RATE)) µs: $RATE req/s in all.
function delay() return $((conns * 1000 / RATE)) end
LUA
cat >"$WORK/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "benchmark row"
LUA
pct() { # wrk output, percentile label
  awk -v p="$2" '$1 == p { print $2 }' "$1"
}
rps() { awk '/Requests\/sec/ { printf "%.0f", $2 }' "$1"; }

wrk -t1 -c4 -d2s "http://127.0.0.1:$p_proxy/small" >/dev/null # warm-up
wrk -t1 -c4 -d2s "http://127.0.0.1:$p_app/small" >/dev/null

cpu_ms() { # pid: user+system CPU time so far, in ms
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"
}
switches() { # pid: voluntary + involuntary context switches of all its threads so far
  cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { n += $2 } END { print n }'
}
part() { [[ " $PARTS " == *" $1 "* ]]; }

if part 1; then
echo "== 1. small GETs at $RATE req/s, ${SECONDS_RUN} s each (p50 / p99 / achieved req/s; proxy: litefs CPU and context switches per request)"
for _ in $(seq 1 "$ROUNDS"); do
for target in "proxy:$p_proxy" "direct:$p_app"; do
  name=${target%%:*}; port=${target##*:}
  c0=$(cpu_ms "${pid[primary]}"); s0=$(switches "${pid[primary]}")
  wrk -t1 -c$conns -d"${SECONDS_RUN}s" --latency -s "$WORK/pace.lua" "http://127.0.0.1:$port/small" >"$WORK/fixed-$name.txt"
  c1=$(cpu_ms "${pid[primary]}"); s1=$(switches "${pid[primary]}")
  n=$(awk '/requests in/ { print $1 }' "$WORK/fixed-$name.txt")
  extra=""
  [ "$name" = proxy ] && extra=$(awk -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v n="$n" 'BEGIN { printf "  %.0f us CPU, %.1f switches /req", c * 1000 / n, s / n }')
  printf '  %-7s p50 %-8s p99 %-8s %s req/s%s\n' "$name" "$(pct "$WORK/fixed-$name.txt" 50%)" "$(pct "$WORK/fixed-$name.txt" 99%)" "$(rps "$WORK/fixed-$name.txt")" "$extra"
done
done
fi

if part 2; then
echo "== 2. most small GETs per second, 32 connections, ${SECONDS_RUN} s each"
for target in "proxy:$p_proxy" "direct:$p_app"; do
  name=${target%%:*}; port=${target##*:}
  wrk -t2 -c32 -d"${SECONDS_RUN}s" --latency "http://127.0.0.1:$port/small" >"$WORK/max-$name.txt"
  printf '  %-7s %s req/s (p50 %s, p99 %s)\n' "$name" "$(rps "$WORK/max-$name.txt")" "$(pct "$WORK/max-$name.txt" 50%)" "$(pct "$WORK/max-$name.txt" 99%)"
done
fi

if part 3; then
echo "== 3. POST /rows (one INSERT each), 4 connections, ${SECONDS_RUN} s each"
for target in "replica-proxy(forwarded):$r_proxy" "primary-proxy:$p_proxy" "primary-app(direct):$p_app"; do
  name=${target%%:*}; port=${target##*:}
  wrk -t1 -c4 -d"${SECONDS_RUN}s" --latency -s "$WORK/post.lua" "http://127.0.0.1:$port/rows" >"$WORK/post-$name.txt"
  printf '  %-26s %s req/s (p50 %s, p99 %s)\n' "$name" "$(rps "$WORK/post-$name.txt")" "$(pct "$WORK/post-$name.txt" 50%)" "$(pct "$WORK/post-$name.txt" 99%)"
done
fi
if part 4; then
command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq nginx-light >/dev/null; }
p_ref=$((BASE + 3))
cat >"$WORK/nginx.conf" <<NGINX
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  upstream app { server 127.0.0.1:$p_app; keepalive 32; }
  server {
    listen 127.0.0.1:$p_ref;
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
NGINX
nginx -c "$WORK/nginx.conf" -p "$WORK" -g "daemon off;" &
pid[nginx]=$!
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$p_ref/small" >/dev/null 2>&1 && break; sleep 0.1; done
wrk -t1 -c4 -d2s "http://127.0.0.1:$p_ref/small" >/dev/null # warm-up
echo "== 4. reference: nginx in place of the proxy, small GETs at $RATE req/s, ${SECONDS_RUN} s each (p50 / p99 / achieved req/s)"
for _ in $(seq 1 "$ROUNDS"); do
for target in "nginx:$p_ref" "direct:$p_app"; do
  name=${target%%:*}; port=${target##*:}
  wrk -t1 -c$conns -d"${SECONDS_RUN}s" --latency -s "$WORK/pace.lua" "http://127.0.0.1:$port/small" >"$WORK/ref-$name.txt"
  printf '  %-7s p50 %-8s p99 %-8s %s req/s\n' "$name" "$(pct "$WORK/ref-$name.txt" 50%)" "$(pct "$WORK/ref-$name.txt" 99%)" "$(rps "$WORK/ref-$name.txt")"
done
done
fi
grep -h "Non-2xx\|Socket errors" "$WORK"/*.txt | sort | uniq -c || true
