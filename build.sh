#!/usr/bin/env bash
# Builds the litefs executable for shipping.
#
#   ./build.sh release [RID...]   Native AOT single-file executables dist/litefs-RID, trimmed, with
#                                 no AOT or trim warnings (they fail the build). Default RIDs:
#                                 linux-x64 and linux-arm64, either one cross-compiled with
#                                 Debian's gcc cross toolchain.
#   ./build.sh portable           a framework-dependent build for any CPU, e.g. one without Native
#                                 AOT (32-bit ARM): dist/litefs-portable/, run as
#                                 `dotnet dist/litefs-portable/litefs.dll` where the .NET 10
#                                 runtime (with ASP.NET Core) is installed.
#
# An executable built from the current commit and newer than every source file is kept (FORCE=1
# rebuilds). Installs the toolchain packages it needs when run as root. Build output stays in
# .build/release, away from the solution's own build, so it can run while tests build.
set -euo pipefail
cd "$(dirname "$0")"
root="$PWD"
cli="$root/src/LiteFs.Cli/LiteFs.Cli.csproj"
mkdir -p "$root/dist" "$root/.build"

usage() {
  sed -n '2,/^[^#]/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# Debian's triple for a .NET runtime identifier.
triple_of() {
  case "$1" in
    linux-x64) echo x86_64-linux-gnu ;;
    linux-arm64) echo aarch64-linux-gnu ;;
    *) echo "build.sh: Native AOT builds here are for linux-x64 and linux-arm64, not $1; for other CPUs use ./build.sh portable" >&2; exit 2 ;;
  esac
}

host_rid() {
  case "$(uname -m)" in
    x86_64) echo linux-x64 ;;
    aarch64) echo linux-arm64 ;;
    *) echo "linux-$(uname -m)" ;;
  esac
}

# Installs Debian packages whose command is missing (as root), or says which to install.
need() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%=*}" >/dev/null || missing+=("${pair#*=}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "build.sh: missing packages: ${missing[*]}; install them (sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "build.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The commit the sources are at (the executable names it in `litefs version`), or "none".
commit() { git -C "$root" rev-parse HEAD 2>/dev/null || echo none; }

# Whether $1 exists, was built from the current commit, and no source file is newer.
up_to_date() {
  [ -z "${FORCE:-}" ] && [ -e "$1" ] && [ "$(cat "$1.commit" 2>/dev/null)" = "$(commit)" ] \
    && [ -z "$(find "$root/src" "$root/Directory.Build.props" "$root/Directory.Packages.props" \
    "$root/build.sh" -newer "$1" \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name 'build.sh' \) -print -quit)" ]
}

publish() {
  local rid="$1" log
  shift
  log="$(mktemp)"
  if ! dotnet publish "$cli" -c Release -r "$rid" --nologo -v quiet \
      -p:ArtifactsPath="$root/.build/release" "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "build.sh: building for $rid failed" >&2
    exit 1
  fi
  rm -f "$log"
}

release() {
  local rid="$1" triple out host
  triple="$(triple_of "$rid")"
  out="$root/dist/litefs-$rid"
  if up_to_date "$out"; then
    echo "dist/litefs-$rid is up to date"
    return
  fi
  host="$(host_rid)"
  local args=(-p:PublishAot=true -p:ObjCopyName="$triple-objcopy")
  if [ "$rid" = "$host" ]; then
    need gcc=gcc objcopy=binutils
    args+=(-p:CppCompilerAndLinker=gcc)
  else
    need "$triple-gcc=gcc-$triple" "$triple-objcopy=binutils-$triple"
    args+=(-p:CppCompilerAndLinker="$root/build/cross-gcc")
  fi
  local tmp="$root/.build/release/publish-$rid"
  rm -rf "$tmp"
  publish "$rid" "${args[@]}" -o "$tmp"
  cp "$tmp/litefs" "$out.tmp"
  mv "$out.tmp" "$out"
  commit > "$out.commit"
  echo "dist/litefs-$rid: $(du -h "$out" | cut -f1), Native AOT"
}

portable() {
  local out="$root/dist/litefs-portable" log
  rm -rf "$out"
  log="$(mktemp)"
  # No runtime identifier: IL for any CPU, started by the dotnet host of the machine it runs on.
  if ! dotnet publish "$cli" -c Release --nologo -v quiet -p:ArtifactsPath="$root/.build/release" \
      -p:UseAppHost=false -o "$out" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "build.sh: the portable build failed" >&2
    exit 1
  fi
  rm -f "$log"
  echo "dist/litefs-portable/: framework-dependent, any CPU; run: dotnet dist/litefs-portable/litefs.dll"
}

command -v dotnet >/dev/null || { echo "build.sh: the .NET 10 SDK (dotnet) is not on PATH" >&2; exit 1; }
case "${1:-}" in
  release)
    shift
    rids=("$@")
    [ ${#rids[@]} -gt 0 ] || rids=(linux-x64 linux-arm64)
    for rid in "${rids[@]}"; do release "$rid"; done
    ;;
  portable)
    [ $# -eq 1 ] || usage
    portable
    ;;
  *) usage ;;
esac
