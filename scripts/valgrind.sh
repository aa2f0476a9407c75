#!/usr/bin/env bash
# valgrind.sh [SUITE...] - runs Criterion suites of the default preset under
# Valgrind memcheck and fails on any error.  Criterion runs each test in a
# child process, so children are traced and every process's log is checked
# for "ERROR SUMMARY: 0 errors" (the children's exit codes do not reach
# Criterion's verdict).  Default suites: test_chan test_context test_sched
# test_sync test_select.  GORO_BUILD_DIR picks another build of the default
# preset (default: build/default).
#
# GORO_TEST_TIMEOUT_SCALE=20 stretches the tests' own time bounds and, through
# tests/common.h, Criterion's per-test timeouts for Valgrind's slowdown.
# --fair-sched=yes: Valgrind runs one thread of a process at a time, and its
# default lock lets the thread that releases it take it straight back, so a
# goroutine spinning on goro_yield can starve the thread it waits for (one
# test_sched test took 3 to 164 s without it, 1.5 to 6.5 s with it).
#
# Three Criterion workers run at once (GORO_VALGRIND_JOBS): a Valgrind
# process runs one thread at a time, and the tests wait in their scaled
# sleeps, so two workers kept 1.3 to 1.6 of the 2 cores busy; three keep
# both busy (docs/reliability.md, "CI time").
set -euo pipefail
GORO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/deps.sh
. "$GORO_ROOT/scripts/deps.sh"
cd "$GORO_ROOT"
goro_deps default
build=${GORO_BUILD_DIR:-build/default}
if [ -z "${GORO_BUILD_DIR:-}" ] && [ ! -x build/default/tests/test_chan ]; then
  ./scripts/test.sh default >/dev/null
fi
jobs=${GORO_VALGRIND_JOBS:-3}
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "valgrind: GORO_VALGRIND_JOBS=$jobs: not a count" >&2; exit 2; }
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(test_chan test_context test_sched test_sync test_select)
logs=$(mktemp -d "${TMPDIR:-/tmp}/goro-vg.XXXXXX")
trap 'rm -rf "$logs"' EXIT
fail=0
for s in "${suites[@]}"; do
  echo "valgrind: $s" >&2
  start=$SECONDS
  GORO_TEST_VALGRIND=1 GORO_TEST_TIMEOUT_SCALE=20 valgrind --trace-children=yes --fair-sched=yes --error-exitcode=99 \
    --log-file="$logs/$s.%p.log" "$build/tests/$s" --jobs "$jobs" >"$logs/$s.out" 2>&1 || {
    tail -n 40 "$logs/$s.out" >&2
    echo "valgrind: $s: the suite failed" >&2
    fail=1
  }
  nlogs=0
  for f in "$logs/$s".*.log; do
    nlogs=$((nlogs + 1))
    if grep -q "ERROR SUMMARY: [1-9]" "$f"; then
      echo "valgrind: errors in $f:" >&2
      cat "$f" >&2
      fail=1
    fi
  done
  tests=$(grep -o 'Tested: .*' "$logs/$s.out" | tail -n 1 || true)
  echo "valgrind: $s: ${tests:-no Criterion summary}; $nlogs processes checked;" \
    "$((SECONDS - start)) s" >&2
done
[ $fail -eq 0 ] && echo "valgrind: ${suites[*]}: 0 errors"
exit $fail
