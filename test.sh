#!/usr/bin/env bash
# Runs every test on a fresh machine: installs what the tests use, builds the solution and the
# release executables, runs the tests (those that start litefs twice: with the framework-dependent
# build and with the Native AOT executable), and ends with the line "N passed, N failed". Extra
# arguments go to `dotnet test` (e.g. --filter Name~Ltx).
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests drive for real: FUSE (fusermount3), sqlite3, the lz4 CLI, curl (HTTP/1.1
# and h2c against the node API), etcd and etcdctl (the etcd lease), openssl (its TLS test's
# certificates), and for the release build: gcc and the arm64 cross toolchain, with qemu-user to
# start the arm64 executable.
missing=()
need() { command -v "$1" >/dev/null || missing+=("$2"); }
need fusermount3 fuse3
need sqlite3 sqlite3
need lz4 lz4
need curl curl
need etcd etcd-server
need etcdctl etcd-client
need openssl openssl
need gcc gcc
need aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
need aarch64-linux-gnu-objcopy binutils-aarch64-linux-gnu
need qemu-aarch64 qemu-user
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "test.sh: missing packages: ${missing[*]}; install them (apt-get install ${missing[*]}) or run as root" >&2
    exit 1
  fi
  echo "test.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# The shipped executables (Native AOT, linux-x64 and linux-arm64): the release tests start the
# arm64 one under qemu, and the second pass below runs the tests that start litefs against the x64 one.
./build.sh release 2>&1 | tee "$log" || status=$?

# A test that hangs is stopped (and reported) rather than holding CI forever.
run_tests() {
  dotnet test "$@" -c Release --nologo -v quiet --logger "console;verbosity=minimal" \
    --blame-hang-timeout 10m 2>&1 | tee -a "$log" || status=$?
}
if [ "$status" -eq 0 ]; then
  run_tests LiteFs.slnx "$@"
  # Again through the release executable: every test that runs litefs as a process, except the
  # long randomized fault runs (trait Duration=Long: the soak, chaos and replica-read tests), which exercise
  # the same code paths as the first pass and would double the run's length.
  for project in tests/LiteFs.IntegrationTests tests/LiteFs.Cli.Tests; do
    LITEFS_BIN="$PWD/dist/litefs-linux-x64" run_tests "$project" --no-build --filter "Duration!=Long" "$@"
  done
fi

# A killed test host cannot unmount what it mounted: remove test mounts left under the temp folder.
tmp="${TMPDIR:-/tmp}"
{ grep -E ' fuse(\.[^ ]*)? ' /proc/mounts || true; } | awk '{print $2}' | while read -r mnt; do
  case "$mnt" in
    "$tmp"/litefs-*) echo "test.sh: removing stale test mount $mnt" >&2; umount -l "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null || true ;;
  esac
done

# Each test assembly prints one summary: "Passed!  - Failed: 0, Passed: 12, Skipped: 0, ...".
read -r passed failed < <(awk '
  /(Passed|Failed)! +- +Failed: +[0-9]+, Passed: +[0-9]+/ {
    for (i = 1; i <= NF; i++) {
      if ($i == "Failed:") { f += $(i + 1) + 0 }
      if ($i == "Passed:") { p += $(i + 1) + 0 }
    }
  }
  END { print p + 0, f + 0 }' "$log")
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # The build or a test host failed before any test could report.
  failed=1
fi
echo "$passed passed, $failed failed"
exit "$status"
