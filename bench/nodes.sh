# Shared by the end-to-end benchmarks (sourced, not run): local LiteFS nodes under $WORK, each
# started with `./litefs mount -dev`, stopped by PID and unmounted on exit.
#   WORK must be set (the benchmark's own temporary directory) before sourcing.
declare -A pid=()
cleanup() {
  set +e
  for n in "${!pid[@]}"; do kill -TERM "${pid[$n]}" 2>/dev/null; done
  for n in "${!pid[@]}"; do wait "${pid[$n]}" 2>/dev/null; done
  if grep -q " $WORK/" /proc/mounts; then
    grep " $WORK/" /proc/mounts | awk '{print $2}' | while read -r m; do umount -l "$m"; done
  fi
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

start_node() { # name port [primary-url]: a node with its data and mount under $WORK/name
  local name=$1 port=$2
  if [ $# -ge 3 ]; then
    ./litefs mount -dev "$WORK/$name" -dev-port "$port" -dev-primary "$3" >"$WORK/$name.log" 2>&1 &
  else
    ./litefs mount -dev "$WORK/$name" -dev-port "$port" >"$WORK/$name.log" 2>&1 &
  fi
  pid[$name]=$!
  for _ in $(seq 1 600); do
    grep -qs " $WORK/$name/mnt " /proc/mounts && { [ $# -lt 3 ] || [ -e "$WORK/$name/mnt/.primary" ]; } && return 0
    sleep 0.1
  done
  echo "node $name did not start:" >&2; cat "$WORK/$name.log" >&2; exit 1
}

wait_pos() { # file expected: until a -pos file reads the expected position
  for _ in $(seq 1 6000); do [ "$(cat "$1" 2>/dev/null)" = "$2" ] && return 0; sleep 0.05; done
  echo "timed out waiting for $1 to reach $2" >&2; exit 1
}

start_config_node() { # name config: `litefs mount -config FILE` (any lease), until its mount is up
  local name=$1
  ./litefs mount -config "$2" >>"$WORK/$name.log" 2>&1 &
  pid[$name]=$!
  for _ in $(seq 1 600); do
    grep -qs " $WORK/$name/mnt " /proc/mounts && return 0
    sleep 0.1
  done
  echo "node $name did not start:" >&2; cat "$WORK/$name.log" >&2; exit 1
}

start_etcd() { # client-port peer-port: a single etcd member with its data under $WORK/etcd
  local client="http://127.0.0.1:$1" peer="http://127.0.0.1:$2"
  etcd --name bench --data-dir "$WORK/etcd" --listen-client-urls "$client" --advertise-client-urls "$client" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" --initial-cluster "bench=$peer" \
    --initial-cluster-state new --log-level warn >"$WORK/etcd.log" 2>&1 &
  pid[etcd]=$!
  for _ in $(seq 1 300); do
    curl -fsS "$client/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "etcd did not start:" >&2; cat "$WORK/etcd.log" >&2; exit 1
}
