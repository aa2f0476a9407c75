#!/usr/bin/env bash
# run_example.sh - ctest driver for the examples: runs one program, then
# checks its exit status and its output (stdout and stderr together).
#
#   run_example.sh [options] -- program [args...]
#
#   --timeout S        fail if it runs longer than S seconds, multiplied by
#                      GORO_TEST_TIMEOUT_SCALE (default 10)
#   --rc N             expected exit status: a number (default 0), "nonzero"
#                      or "any"
#   --match RE         some line matches the extended regex RE
#   --no-match RE      no line matches RE
#   --count N RE       exactly N lines match RE
#   --set RE "V..."    the last words of the lines matching RE are exactly
#                      the values V... in some order
#   --signal SIG MS    send SIG (a name: INT, TERM) MS milliseconds after
#                      the program has installed a handler for it (read from
#                      /proc/PID/status, so the signal never lands before
#                      the program is ready for it)
#
# Every check runs; the output is printed, with each failed check, and the
# exit status is 1 if any failed.  A program killed for running too long,
# or still running without the handler --signal waits for, has its
# threads' states and stacks printed too.
set -u

timeout_s=10
expect_rc=0
sig=""
sig_after_ms=0
checks=()
while [ $# -gt 0 ]; do
  case $1 in
    --timeout) timeout_s=$2; shift 2 ;;
    --rc) expect_rc=$2; shift 2 ;;
    --match | --no-match) checks+=("$1" "$2" ""); shift 2 ;;
    --count) checks+=("$1" "$3" "$2"); shift 3 ;;
    --set) checks+=("$1" "$2" "$3"); shift 3 ;;
    --signal) sig=$2; sig_after_ms=$3; shift 3 ;;
    --) shift; break ;;
    *) echo "run_example.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done
if [ $# -eq 0 ]; then
  echo "usage: run_example.sh [options] -- program [args...]" >&2
  exit 2
fi

scale=${GORO_TEST_TIMEOUT_SCALE:-1}
limit_ms=$((timeout_s * scale * 1000))
out=$(mktemp)
diag=$(mktemp)
trap 'rm -f "$out" "$diag"' EXIT

# The polling below forks nothing but `sleep`: on a loaded machine every
# fork of date, sed or awk costs tens of ms.
# now_ms: sets $now to the time in milliseconds.
now_ms() {
  local t=${EPOCHREALTIME/[.,]/}
  now=$((t / 1000))
}

# Running, not a zombie.  Field 3 of /proc/PID/stat, after "(comm)".
alive() {
  local st
  read -r st <"/proc/$1/stat" 2>/dev/null || return 1
  st=${st##*) }
  [ -n "$st" ] && [ "${st%% *}" != Z ]
}

# Whether process $1 catches signal number $2 (the SigCgt mask, in hex).
catches() {
  local key val mask=""
  while read -r key val; do
    [ "$key" = SigCgt: ] && mask=$val
  done <"/proc/$1/status" 2>/dev/null
  [ -n "$mask" ] && (((16#$mask >> ($2 - 1)) & 1))
}

# What a program that is about to be killed is doing, into $diag: each
# thread's state and kernel wait channel, and, where gdb is installed,
# every thread's stack.
report_stuck() {
  local t st wchan
  {
    echo "--- the program's threads (state, kernel wait channel):"
    for t in /proc/"$1"/task/*; do
      read -r st <"$t/stat" 2>/dev/null || continue
      st=${st##*) }
      read -r wchan <"$t/wchan" 2>/dev/null || wchan=?
      echo "  ${t##*/}: ${st%% *} $wchan"
    done
    if command -v gdb >/dev/null 2>&1; then
      echo "--- their stacks (gdb):"
      timeout 30 gdb -q -batch -p "$1" -ex 'thread apply all bt' 2>&1 | grep -E '^(Thread|#)' | head -200
    fi
  } >>"$diag"
}

now_ms
start=$now
"$@" >"$out" 2>&1 &
pid=$!
timed_out=0
failures=()

if [ -n "$sig" ]; then
  signum=$(kill -l "$sig") || exit 2
  while alive "$pid" && ! catches "$pid" "$signum"; do
    now_ms
    if [ $((now - start)) -gt "$limit_ms" ]; then
      break
    fi
    sleep 0.01
  done
  if alive "$pid" && catches "$pid" "$signum"; then
    printf -v secs '%d.%03d' $((sig_after_ms / 1000)) $((sig_after_ms % 1000))
    sleep "$secs"
    kill -s "$sig" "$pid" 2>/dev/null
  else
    failures+=("the program never installed a handler for SIG$sig")
    alive "$pid" && report_stuck "$pid"
  fi
fi

while alive "$pid"; do
  now_ms
  if [ $((now - start)) -gt "$limit_ms" ]; then
    [ -s "$diag" ] || report_stuck "$pid"
    kill -s KILL "$pid" 2>/dev/null
    timed_out=1
    break
  fi
  sleep 0.02
done
wait "$pid"
rc=$?
now_ms
elapsed=$((now - start))

if [ $timed_out -eq 1 ]; then
  failures+=("timed out after $((limit_ms / 1000)) s (killed)")
fi
case $expect_rc in
  any) ;;
  nonzero) [ $rc -ne 0 ] || failures+=("exit status 0, want non-zero") ;;
  *) [ $rc -eq "$expect_rc" ] || failures+=("exit status $rc, want $expect_rc") ;;
esac

for ((i = 0; i < ${#checks[@]}; i += 3)); do
  kind=${checks[i]} re=${checks[i + 1]} arg=${checks[i + 2]}
  case $kind in
    --match)
      grep -Eq -- "$re" "$out" || failures+=("no line matches /$re/") ;;
    --no-match)
      ! grep -Eq -- "$re" "$out" || failures+=("a line matches /$re/: $(grep -Em1 -- "$re" "$out")") ;;
    --count)
      n=$(grep -Ec -- "$re" "$out")
      [ "$n" -eq "$arg" ] || failures+=("$n lines match /$re/, want $arg") ;;
    --set)
      got=$(grep -E -- "$re" "$out" | awk '{ print $NF }' | sort | tr '\n' ' ')
      want=$(printf '%s\n' $arg | sort | tr '\n' ' ')
      [ "$got" = "$want" ] || failures+=("lines matching /$re/ end in {${got% }}, want {${want% }}") ;;
  esac
done

echo "--- $* (exit status $rc, $elapsed ms):"
cat "$out"
cat "$diag"
if [ ${#failures[@]} -gt 0 ]; then
  echo "---"
  for f in "${failures[@]}"; do
    echo "FAIL: $f"
  done
  exit 1
fi
echo "--- ok"
exit 0
