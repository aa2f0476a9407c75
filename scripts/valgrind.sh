#!/usr/bin/env bash
# valgrind.sh [SUITE...] - runs Criterion suites of the default preset under
# Valgrind memcheck and fails on any error.  Criterion runs each test in a
# child process, so children are traced and every process's log is checked
# for "ERROR SUMMARY: 0 errors" (the children's exit codes do not reach
# Criterion's verdict).  Default suites: test_chan test_context.
set -euo pipefail
GORO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/deps.sh
. "$GORO_ROOT/scripts/deps.sh"
cd "$GORO_ROOT"
goro_deps default
[ -x build/default/tests/test_chan ] || ./scripts/test.sh default >/dev/null
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(test_chan test_context)
logs=$(mktemp -d "${TMPDIR:-/tmp}/goro-vg.XXXXXX")
trap 'rm -rf "$logs"' EXIT
fail=0
for s in "${suites[@]}"; do
  echo "valgrind: $s" >&2
  # Timing bounds stretch under Valgrind's ~20x slowdown.
  GORO_TEST_TIMEOUT_SCALE=20 valgrind --trace-children=yes --error-exitcode=99 \
    --log-file="$logs/$s.%p.log" "build/default/tests/$s" --jobs 1 >/dev/null 2>&1 || {
    echo "valgrind: $s: the suite failed" >&2
    fail=1
  }
  for f in "$logs/$s".*.log; do
    if grep -q "ERROR SUMMARY: [1-9]" "$f"; then
      echo "valgrind: errors in $f:" >&2
      cat "$f" >&2
      fail=1
    fi
  done
done
[ $fail -eq 0 ] && echo "valgrind: ${suites[*]}: 0 errors"
exit $fail
