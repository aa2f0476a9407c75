#!/usr/bin/env bash
# test.sh [PRESET] [-DVAR=VALUE...] [-- CTEST_ARGS...] - install missing
# build dependencies (apt), then configure, build and test one preset
# (default: default).
# Presets: default release debug asan tsan aarch64 (CMakePresets.json).
# -DVAR=VALUE settings go to the configure step (.ci/run: the release build
# without the benchmarks); arguments after -- go to ctest (.ci/run: -LE to
# leave out the labels compile, doc and install where another step runs
# the same checks).
# Environment: CI=true or GORO_WERROR=ON turns warnings into errors.
set -euo pipefail

GORO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/deps.sh
. "$GORO_ROOT/scripts/deps.sh"
cd "$GORO_ROOT"

usage() {
  echo "usage: $0 [default|release|debug|asan|tsan|aarch64] [-DVAR=VALUE...] [-- CTEST_ARGS...]" >&2
  exit 2
}
preset=default
if [ $# -gt 0 ] && [[ $1 != -* ]]; then
  preset=$1
  shift
fi
case $preset in
  default|release|debug|asan|tsan|aarch64) ;;
  *) usage ;;
esac
configure=()
while [ $# -gt 0 ]; do
  case $1 in
    -D?*) configure+=("$1"); shift ;;
    --) shift; break ;;
    *) usage ;;
  esac
done

goro_deps "$preset"
cmake --preset "$preset" -DGORO_WERROR="$(goro_werror)" "${configure[@]}"
cmake --build --preset "$preset" -j "$(goro_jobs)"
ctest --preset "$preset" -j2 "$@"
