#!/usr/bin/env bash
# soak.sh [SECONDS [PRESET]] - builds the soak program (tests/soak/soak.c)
# in build/PRESET and runs it for SECONDS (default 60): every part of goro
# under mixed load at once, then its invariants (docs/reliability.md,
# "Soak").  PRESET: default (the default), release, debug, asan, tsan.
# A preset not configured yet is configured first.
#
#   scripts/soak.sh 60            # what CI runs, after the default preset
#   scripts/soak.sh 30 tsan
#   GORO_SOAK_SEED=1234 scripts/soak.sh 5
#
# The exit status is the soak's: 0 when every invariant held, 1 when one
# did not (each failure is printed), 2 when shutdown hung (its watchdog
# prints the goroutine dump); a run that outlives SECONDS plus a generous
# margin is killed (124).
set -euo pipefail
GORO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/deps.sh
. "$GORO_ROOT/scripts/deps.sh"
cd "$GORO_ROOT"

secs=${1:-60}
preset=${2:-default}
usage() {
  echo "usage: $0 [SECONDS [default|release|debug|asan|tsan]]" >&2
  exit 2
}
[[ $secs =~ ^[0-9]+([.][0-9]+)?$ ]] || usage
scale=1
case $preset in
  default|release|debug) ;;
  asan)
    scale=3
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$GORO_ROOT/tests/support/lsan.supp:print_suppressions=0}
    ;;
  tsan)
    scale=4
    export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
    ;;
  *) usage ;;
esac
export GORO_TEST_TIMEOUT_SCALE=${GORO_TEST_TIMEOUT_SCALE:-$scale}

build=build/$preset
if [ ! -f "$build/CMakeCache.txt" ]; then
  goro_deps "$preset"
  cmake --preset "$preset" -DGORO_WERROR="$(goro_werror)" >/dev/null
fi
cmake --build "$build" -j "$(goro_jobs)" --target soak >/dev/null

# The soak's own watchdog fires 120 s x scale after the load; this limit
# only catches a process too stuck for that.
limit=$(( ${secs%.*} + 1 + 180 * GORO_TEST_TIMEOUT_SCALE ))
echo "soak.sh: $build/tests/soak $secs (limit ${limit} s)" >&2
exec timeout -k 10 "$limit" "$build/tests/soak" "$secs"
