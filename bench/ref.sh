#!/usr/bin/env bash
# bench/ref.sh - the reference programs of B11 and B12 (docs/benchmarks.md),
# run by bench/run in the place of a Go twin, against the servers it
# started.  The last line is the metric, as the goro programs print it.
#
#   ref.sh redis N TOTAL      redis-benchmark -c N -n TOTAL/2 -t set,get:
#                             TOTAL commands, half SET, half GET; commands
#                             per second over both (GORO_BENCH_REDIS)
#   ref.sh pgbench N SECONDS  pgbench -S -c N -T SECONDS: select-only
#                             transactions per second (GORO_BENCH_PG; the
#                             tables made by pgbench -i beforehand)
set -euo pipefail

fail() { echo "ref.sh: $*" >&2; exit 1; }

case ${1:-} in
  redis)
    n=$2 total=$3
    addr=${GORO_BENCH_REDIS:?set GORO_BENCH_REDIS=host:port}
    command -v redis-benchmark >/dev/null || fail "redis-benchmark not installed (Debian: redis-tools)"
    csv=$(redis-benchmark -h "${addr%:*}" -p "${addr##*:}" -c "$n" -n $((total / 2)) \
      -t set,get --csv) || fail "redis-benchmark failed"
    # "SET","21574.97",... and "GET",...: the time for TOTAL/2 of each.
    set_rps=$(awk -F'"' '$2 == "SET" { print $4 }' <<<"$csv")
    get_rps=$(awk -F'"' '$2 == "GET" { print $4 }' <<<"$csv")
    [[ -n $set_rps && -n $get_rps ]] || fail "no SET/GET figures in: $csv"
    awk -v n="$n" -v t="$total" -v s="$set_rps" -v g="$get_rps" 'BEGIN {
      secs = (t / 2) / s + (t / 2) / g
      printf "redis-benchmark -c %d: SET %.1f/s, GET %.1f/s\n", n, s, g
      printf "redis_%d ops_per_s %.1f ops/s\n", n, t / secs }'
    ;;
  pgbench)
    n=$2 secs=$3
    ci=${GORO_BENCH_PG:?set GORO_BENCH_PG to a conninfo}
    command -v pgbench >/dev/null || fail "pgbench not installed (Debian: postgresql-contrib)"
    out=$(pgbench -S -c "$n" -T "$secs" "$ci" 2>&1) || { echo "$out" >&2; fail "pgbench failed"; }
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | tail -n 1)
    [[ -n $tps ]] || { echo "$out" >&2; fail "no tps line"; }
    echo "pgbench -S -c $n -T $secs: $(grep -c . <<<"$out") lines of output"
    echo "pg_$n tps $tps tps"
    ;;
  *) echo "usage: ref.sh redis N TOTAL | ref.sh pgbench N SECONDS" >&2; exit 2 ;;
esac
