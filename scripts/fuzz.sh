#!/usr/bin/env bash
# fuzz.sh - builds the libFuzzer targets (clang, ASan + UBSan, GORO_FUZZ=ON)
# in build/fuzz and runs fuzz_chan for SECONDS seconds (default 60) on a
# scratch copy of tests/fuzz/corpus, so new inputs never land in the tree.
#
#   scripts/fuzz.sh [SECONDS] [extra libFuzzer flags...]
#
# Crashes go to build/fuzz/artifacts/; replay one with
#   build/fuzz/tests/fuzz/fuzz_chan build/fuzz/artifacts/crash-...
# Keep an input worth keeping by copying it into tests/fuzz/corpus/.
set -euo pipefail
GORO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
build=$GORO_ROOT/build/fuzz
jobs=${GORO_JOBS:-$(nproc)}

# shellcheck source=scripts/deps.sh
. "$GORO_ROOT/scripts/deps.sh"
goro_deps fuzz
cmake -S "$GORO_ROOT" -B "$build" -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGORO_FUZZ=ON -DGORO_SANITIZE=address -DGORO_TESTING=OFF -DGORO_BUILD_TESTS=OFF \
  -DGORO_BUILD_EXAMPLES=OFF -DGORO_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$jobs" --target fuzz_chan

scratch=$(mktemp -d "${TMPDIR:-/tmp}/goro-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
cp -r "$GORO_ROOT/tests/fuzz/corpus/." "$scratch/"
mkdir -p "$build/artifacts"
# Goroutines live on mapped stacks; leak checks at exit stay on (ASan).
"$build/tests/fuzz/fuzz_chan" -max_total_time="$secs" -max_len=1024 -timeout=10 \
  -artifact_prefix="$build/artifacts/" -print_final_stats=1 "$@" "$scratch"
