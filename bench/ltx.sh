#!/usr/bin/env bash
# Runs the LTX micro-benchmarks (bench/LiteFs.Benchmarks/Ltx): CRC-64, encode, decode, checksums.
#
#   bench/ltx.sh                      # every LTX benchmark, short job (~5-8 minutes on 2 cores)
#   LTX_BENCH_JOB=default bench/ltx.sh   # full BenchmarkDotNet job: slower, tighter error bars
#   bench/ltx.sh --filter '*Crc64*'   # extra arguments go to BenchmarkDotNet; a --filter, --job or
#                                     # --artifacts given here replaces the default one
#
# Results (Markdown, CSV, HTML and the log) land in bench/LiteFs.Benchmarks/BenchmarkDotNet.Artifacts.
# Columns: "MB/s" is page data (or buffer) bytes per second in 10^6 B/s; "Alloc/page" is
# (Allocated at PageCount=256 - Allocated at PageCount=16) / 240, the bytes the steady path
# allocates per page (target 0 B). Ratio columns compare with the Baseline in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."

# BenchmarkDotNet rejects an option given twice, so a default applies only when not overridden.
defaults=()
has() { local a; for a in "${@:2}"; do [[ $a == "$1" || $a == "$1="* ]] && return 0; done; return 1; }
has --filter "$@" || has -f "$@" || defaults+=(--filter 'LiteFs.Benchmarks.Ltx.*')
has --job "$@" || has -j "$@" || defaults+=(--job "${LTX_BENCH_JOB:-short}")
has --artifacts "$@" || defaults+=(--artifacts bench/LiteFs.Benchmarks/BenchmarkDotNet.Artifacts)

dotnet build bench/LiteFs.Benchmarks -c Release --nologo -v quiet
exec dotnet run -c Release --no-build --project bench/LiteFs.Benchmarks -- "${defaults[@]}" "$@"
