#!/usr/bin/env bash
# Start-up time of the Native AOT executable against the framework-dependent build, in one run:
# `litefs version`, and `litefs mount` to a mounted node answering /info, then its stop.
#   bench/startup/run.sh [ROUNDS]      (default 20; needs root for the mounts, and python3)
# Builds both first (./build.sh release linux-x64, and the framework-dependent build that ./litefs runs).
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds="${1:-20}"
port="${LITEFS_BENCH_PORT:-20290}"
./build.sh release linux-x64 >/dev/null
./litefs version >/dev/null
work="$(mktemp -d /tmp/litefs-startup-XXXXXX)"
trap 'rm -rf "$work"' EXIT
python3 bench/startup/startup.py "$rounds" "$port" "$work" \
  "framework-dependent" "dotnet $PWD/.build/cli/litefs.dll" \
  "native-aot" "$PWD/dist/litefs-linux-x64"
