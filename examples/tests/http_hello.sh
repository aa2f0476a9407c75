#!/usr/bin/env bash
# http_hello.sh BINARY - ctest for examples/http_hello: two keep-alive
# requests on one connection, a pipelined pair, then "Connection: close";
# each answer must be "hello world"; SIGINT then ends the server cleanly.
set -euo pipefail
BIN=$1
SCALE=${GORO_TEST_TIMEOUT_SCALE:-1}
T=$((5 * SCALE))
OUT=$(mktemp)
trap 'kill -9 "$PID" 2>/dev/null || true; rm -f "$OUT"' EXIT
fail() { echo "FAIL: $*" >&2; echo "--- server output:" >&2; cat "$OUT" >&2; exit 1; }

"$BIN" 127.0.0.1:0 >"$OUT" 2>&1 &
PID=$!
for ((i = 0; i < T * 20; i++)); do
  grep -q '^listening on ' "$OUT" && break
  sleep 0.05
done
PORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$OUT")
[[ -n $PORT ]] || fail "no 'listening on' line"

# response FD: reads one response, checks status 200 and body "hello world".
response() {
  local fd=$1 line status len=-1 body
  IFS= read -r -t "$T" -u "$fd" status || fail "no status line"
  [[ $status == "HTTP/1.1 200 OK"$'\r' ]] || fail "status '$status'"
  while IFS= read -r -t "$T" -u "$fd" line; do
    line=${line%$'\r'}
    [[ -z $line ]] && break
    if [[ ${line,,} =~ ^content-length:\ *([0-9]+)$ ]]; then len=${BASH_REMATCH[1]}; fi
  done
  [[ $len -ge 0 ]] || fail "no Content-Length"
  IFS= read -r -t "$T" -N "$len" -u "$fd" body || fail "short body"
  [[ $body == "hello world"$'\n' ]] || fail "body '$body'"
}

REQ=$'GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: ctest\r\n\r\n'
exec 3<>"/dev/tcp/127.0.0.1/$PORT" || fail "connect"
printf '%s' "$REQ" >&3
response 3
printf '%s' "$REQ" >&3 # keep-alive: same connection
response 3
printf '%s%s' "$REQ" "$REQ" >&3 # pipelined
response 3
response 3
printf 'GET /bye HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
response 3
# The server closes its side after that one.
if IFS= read -r -t "$T" -u 3 extra; then fail "data after Connection: close: '$extra'"; fi
exec 3>&- 3<&-

# A malformed request gets 400.
exec 4<>"/dev/tcp/127.0.0.1/$PORT" || fail "connect 2"
printf 'BLAH\r\n\r\n' >&4
IFS= read -r -t "$T" -u 4 status || fail "no answer to a bad request"
[[ $status == "HTTP/1.1 400 Bad Request"$'\r' ]] || fail "bad request answered '$status'"
exec 4>&- 4<&-

# An idle keep-alive connection does not hold up the shutdown.
exec 5<>"/dev/tcp/127.0.0.1/$PORT" || fail "connect 3"
kill -INT "$PID"
rc=0
for ((i = 0; i < T * 20; i++)); do
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.05
done
kill -0 "$PID" 2>/dev/null && fail "server still running after SIGINT"
wait "$PID" || rc=$?
[[ $rc -eq 0 ]] || fail "exit status $rc"
grep -q '^all connections closed$' "$OUT" || fail "no 'all connections closed' line"
exec 5>&- 5<&-
echo "http_hello: ok"
