#!/usr/bin/env bash
# api.sh [PRESET] - builds the API reference from include/goro.h's doc
# comments with Doxygen into build/PRESET/api/html (PRESET: default), and
# runs the doc checks (ctest -L doc): Doxygen with warnings as errors, and
# goro.h compiled as C and C++ with clang -Wdocumentation -Werror.  Installs
# Doxygen and clang through apt when missing (scripts/deps.sh, "doc").
set -euo pipefail

GORO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/deps.sh
. "$GORO_ROOT/scripts/deps.sh"
cd "$GORO_ROOT"

preset=${1:-default}
goro_deps "$preset"
goro_deps doc
cmake --preset "$preset" -DGORO_WERROR="$(goro_werror)" >/dev/null
cmake --build --preset "$preset" --target api
ctest --preset "$preset" -L doc --output-on-failure
echo "api: $GORO_ROOT/build/$preset/api/html/index.html"
