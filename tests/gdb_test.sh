#!/usr/bin/env bash
# gdb_test.sh TARGET SCRIPT - drives gdb in batch mode against the program
# TARGET (tests/gdb_target.c) with goro's gdb extension SCRIPT, and checks
# that "goro goroutines" lists the three parked goroutines and that
# "goro bt" shows where one of them (the one with a non-default stack
# size) is blocked, down to the trampoline.
set -u
target=$1
script=$2
if ! command -v gdb >/dev/null; then
    echo "gdb_test: gdb not installed" >&2
    exit 1
fi
out=$(GORO_DEADLOCK=0 timeout 120 gdb -nx -batch \
    -ex 'set debuginfod enabled off' -ex run -ex "source $script" \
    -ex 'goro goroutines' -ex 'goro bt 3' -ex 'continue' "$target" 2>&1)
echo "$out"
fail=0
check() {
    if ! grep -Eq "$1" <<<"$out"; then
        echo "gdb_test: missing: $1" >&2
        fail=1
    fi
}
# Relative to the source root (-fmacro-prefix-map), not the build machine's path.
check '^goroutine 1 \[chan receive\] worker created by main at tests/gdb_target\.c:[0-9]+'
check '^goroutine 3 \[chan receive\] worker'
check '^3 goroutines$'
check '^goroutine 3:$'
# An inlined frame has no address, so no "in": "#4  goro_chan_recv (c=...".
check '(in |^#[0-9]+ +)goro_chan_recv '
check 'blocked_in_recv .*gdb_target\.c'
check 'in worker .*gdb_target\.c'
check 'goro__trampoline'
check 'gdb_target done'
exit $fail
