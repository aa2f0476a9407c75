#!/usr/bin/env bash
# test.sh [PRESET] - install missing build dependencies (apt), then
# configure, build and test one preset (default: default).
# Presets: default release debug asan tsan aarch64 (CMakePresets.json).
# Environment: CI=true or GORO_WERROR=ON turns warnings into errors.
set -euo pipefail

GORO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/deps.sh
. "$GORO_ROOT/scripts/deps.sh"
cd "$GORO_ROOT"

preset=${1:-default}
case $preset in
  default|release|debug|asan|tsan|aarch64) ;;
  *) echo "usage: $0 [default|release|debug|asan|tsan|aarch64]" >&2; exit 2 ;;
esac

goro_deps "$preset"
cmake --preset "$preset" -DGORO_WERROR="$(goro_werror)"
cmake --build --preset "$preset" -j "$(goro_jobs)"
ctest --preset "$preset" -j2
