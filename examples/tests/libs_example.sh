#!/usr/bin/env bash
# libs_example.sh ENVFILE EXAMPLE BINARY - ctest for the examples that drive
# C client libraries (redis_counter, pg_query, downloader) against the
# servers of the libs_servers fixture: ENVFILE is what scripts/servers.sh
# wrote.  Runs the example with the servers' addresses and checks its
# output; exits 77 (ctest: skipped) when the server it needs is missing.
set -uo pipefail
ENVFILE=$1 EXAMPLE=$2 BIN=$3
SCALE=${GORO_TEST_TIMEOUT_SCALE:-1}
LIMIT=$((30 * SCALE))

val() { [ -f "$ENVFILE" ] && sed -n "s/^$1=//p" "$ENVFILE" | sed "s/^'\\(.*\\)'\$/\\1/"; }
need() {
  if [ -z "$(val "$1")" ]; then
    echo "SKIP: no $1 in ${ENVFILE} (scripts/servers.sh did not start that server)"
    exit 77
  fi
}
fail() { echo "FAIL: $*"; exit 1; }

OUT=$(mktemp)
WORK=$(mktemp -d)
trap 'rm -rf "$OUT" "$WORK"' EXIT

# run ARGS...: the example, bounded; its output in $OUT and on stdout.
run() {
  local rc=0
  timeout -s KILL "$LIMIT" "$BIN" "$@" >"$OUT" 2>&1 || rc=$?
  echo "--- $EXAMPLE $* (exit status $rc):"
  cat "$OUT"
  [ $rc -ne 137 ] || fail "timed out after $LIMIT s"
  return $rc
}
has() { grep -Eq -- "$1" "$OUT" || fail "no line matches /$1/"; }

case $EXAMPLE in
  redis_counter)
    need REDIS_PORT
    run "$(val REDIS_HOST)" "$(val REDIS_PORT)" 100 20 || fail "exit status $?"
    has '^service: listening on 127\.0\.0\.1:[0-9]+, 8 redis connections'
    has '^clients: 100 clients sent 2000 increments, 2000 answered, in [0-9]+ ms$'
    has '^counter hits = 2000 \(want 2000\)$'
    ;;
  pg_query)
    need PG_CONNINFO
    ci=$(val PG_CONNINFO)
    run "$ci" 4 || fail "exit status $?"
    has '^query 1: 1 rows, first value 100000 '
    has '^query 2: 1 rows, first value 500500 '
    has '^query 4: 250 rows, first value 1 '
    has '^query 6: 1 rows, first value PostgreSQL '
    [ "$(grep -c '^query [3578]: 1 rows, first value slept ' "$OUT")" -eq 4 ] || fail "want 4 pg_sleep rows"
    has '^ran 8 queries on 4 connections in [0-9]+ ms, 0 failed$'
    ms=$(sed -n 's/^ran 8 queries on 4 connections in \([0-9]*\) ms.*/\1/p' "$OUT")
    # Four 200 ms sleeps on four connections overlap: well under 800 ms.
    [ "$ms" -lt $((700 * SCALE)) ] || fail "the sleeps did not overlap: $ms ms"
    # A deadline cancels a long query on the server, while the other
    # connection's query completes.  The deadline runs from the start,
    # connections included: a loaded machine (a sanitizer build beside
    # another test) once took over 300 ms to open the second one.
    run "$ci" 2 $((1500 * SCALE)) "SELECT pg_sleep(20)" "SELECT 1" && fail "exit status 0 with a canceled query"
    has '^query 1: canceled \([0-9]+ ms\): SELECT pg_sleep\(20\)$'
    has '^query 2: 1 rows, first value 1 '
    has '^ran 2 queries on 2 connections in [0-9]+ ms, 1 failed$'
    ;;
  downloader)
    need HTTP_URL
    url=$(val HTTP_URL) root=$(val HTTP_ROOT)
    urls=()
    for i in $(seq 0 39); do urls+=("${url}f$i.txt"); done
    urls+=("${url}64k.bin" "${url}hello.txt")
    run -j 8 "$WORK" "${urls[@]}" || fail "exit status $?"
    has '^downloaded 42 of 42 URLs, [0-9]+ bytes, with 8 goroutines in [0-9]+ ms$'
    has "^${url}64k\\.bin: 65536 bytes, status 200, "
    for f in hello.txt 64k.bin f0.txt f17.txt f39.txt; do
      cmp -s "$root/$f" "$WORK/$f" || fail "$f differs from the server's copy"
    done
    [ "$(find "$WORK" -type f | wc -l)" -eq 42 ] || fail "want 42 files in $WORK"
    # A missing file fails (status 404) and leaves no file behind.
    run "$WORK/none" "${url}missing.txt" && fail "exit status 0 for a 404"
    mkdir -p "$WORK/none"
    run "$WORK/none" "${url}missing.txt" "${url}hello.txt" && fail "exit status 0 for a 404"
    has '^downloaded 1 of 2 URLs'
    has "^${url}missing\\.txt: failed: status 404\$"
    [ ! -e "$WORK/none/missing.txt" ] || fail "a file was left for the 404"
    ;;
  *) fail "unknown example $EXAMPLE" ;;
esac
echo "--- ok"
