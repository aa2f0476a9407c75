#!/usr/bin/env bash
# servers.sh - real servers on 127.0.0.1 for the tests, examples and
# benchmarks that drive C client libraries (hiredis, libpq, libcurl).
#
#   servers.sh start ENVFILE [redis] [pg] [http]   (default: all three)
#   servers.sh stop ENVFILE
#
# start makes a temporary directory (under $TMPDIR, default /tmp), starts
# each server there on a free port, waits until it answers, and writes
# ENVFILE, lines of KEY=VALUE that both a shell (source it) and the C tests
# (tests/libs_common.h) read; a value with spaces is in single quotes:
#
#   GORO_SERVERS_DIR=/tmp/goro-servers.XXXXXX   the temporary directory
#   REDIS_HOST=127.0.0.1  REDIS_PORT=N          redis-server, no persistence
#   PG_CONNINFO='host=127.0.0.1 port=N ...'     PostgreSQL: initdb + pg_ctl,
#                                               data and unix socket in the
#                                               directory, trust auth, user
#                                               goro, database postgres
#   HTTP_URL=http://127.0.0.1:N/  HTTP_ROOT=DIR nginx serving HTTP_ROOT, which
#                                               holds the files listed below
#
# HTTP_ROOT has hello.txt ("hello, goro\n"), 64k.bin (65536 bytes: byte i is
# i mod 251) and f0.txt ... f99.txt ("file N\n").  A server whose program is
# missing is left out of ENVFILE (its tests skip); one that is installed but
# does not start fails the whole start, after stopping the others.
#
# PostgreSQL refuses to run as root: as root, initdb and the server run as
# the user postgres (or nobody), which then owns the data directory.
#
# stop reads ENVFILE, stops the servers, removes the directory and ENVFILE.
# ctest runs start and stop as the fixture libs_servers (tests/CMakeLists.txt);
# bench/run calls them around the library benchmarks.
set -uo pipefail

say() { printf 'servers.sh: %s\n' "$*" >&2; }

# A free TCP port on 127.0.0.1 right now (a server may still lose it to a
# race; start_* then tries another).
free_port() {
  local p i
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# Waits up to $2 seconds (tenths) for command "$1" to succeed.
wait_for() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    eval "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# run_as USER CMD...: CMD as USER (when root), else as ourselves.
run_as() {
  local user=$1
  shift
  if [ "$(id -u)" -ne 0 ]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u "$user" -- "$@"
  else
    su -s /bin/sh "$user" -c "$(printf '%q ' "$@")"
  fi
}

pg_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null)
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  fi
  for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

start_redis() {
  local dir=$1 envfile=$2 port
  if ! command -v redis-server >/dev/null 2>&1; then
    say "redis-server not installed (Debian: redis-server): redis left out"
    return 0
  fi
  mkdir -p "$dir/redis"
  for _ in 1 2 3 4 5; do
    port=$(free_port) || return 1
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
      --dir "$dir/redis" --daemonize yes --pidfile "$dir/redis/redis.pid" \
      --logfile "$dir/redis/redis.log" --maxclients 10000 >/dev/null 2>&1
    if wait_for "[ -s '$dir/redis/redis.pid' ] && (exec 3<>/dev/tcp/127.0.0.1/$port)" 5; then
      if command -v redis-cli >/dev/null 2>&1; then
        wait_for "[ \"\$(redis-cli -h 127.0.0.1 -p $port ping)\" = PONG ]" 5 || return 1
      fi
      printf 'REDIS_HOST=127.0.0.1\nREDIS_PORT=%s\n' "$port" >>"$envfile"
      say "redis-server on 127.0.0.1:$port"
      return 0
    fi
    stop_pidfile "$dir/redis/redis.pid"
  done
  say "redis-server did not start; its log:"
  cat "$dir/redis/redis.log" >&2 2>/dev/null
  return 1
}

start_pg() {
  local dir=$1 envfile=$2 bin user port pgdir
  pgdir=$dir/pg
  if ! bin=$(pg_bindir); then
    say "PostgreSQL server not installed (Debian: postgresql): pg left out"
    return 0
  fi
  user=$(id -un)
  mkdir -p "$pgdir/sock"
  if [ "$(id -u)" -eq 0 ]; then
    if id postgres >/dev/null 2>&1; then user=postgres; else user=nobody; fi
    chown -R "$user" "$pgdir"
    chmod 755 "$dir"
  fi
  if ! run_as "$user" "$bin/initdb" -D "$pgdir/data" -U goro --auth=trust -E UTF8 \
      --no-locale >"$pgdir/initdb.log" 2>&1; then
    say "initdb failed; its output:"
    cat "$pgdir/initdb.log" >&2
    return 1
  fi
  for _ in 1 2 3 4 5; do
    port=$(free_port) || return 1
    if run_as "$user" "$bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -t 30 \
        -o "-p $port -k $pgdir/sock -c listen_addresses=127.0.0.1 -c fsync=off \
            -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
        start >"$pgdir/pg_ctl.log" 2>&1; then
      {
        printf 'PG_BINDIR=%s\nPG_USER=%s\n' "$bin" "$user"
        printf "PG_CONNINFO='host=127.0.0.1 port=%s user=goro dbname=postgres gssencmode=disable sslmode=disable'\n" "$port"
        printf 'PG_HOST=127.0.0.1\nPG_PORT=%s\nPG_SOCKDIR=%s\n' "$port" "$pgdir/sock"
      } >>"$envfile"
      say "PostgreSQL on 127.0.0.1:$port (data in $pgdir/data, running as $user)"
      return 0
    fi
  done
  say "PostgreSQL did not start; its log:"
  cat "$pgdir/server.log" "$pgdir/pg_ctl.log" >&2 2>/dev/null
  return 1
}

start_http() {
  local dir=$1 envfile=$2 nginx port i root
  root=$dir/http/root
  nginx=$(command -v nginx 2>/dev/null || true)
  [ -z "$nginx" ] && [ -x /usr/sbin/nginx ] && nginx=/usr/sbin/nginx
  if [ -z "$nginx" ]; then
    say "nginx not installed (Debian: nginx-light): http left out"
    return 0
  fi
  mkdir -p "$root" "$dir/http/tmp"
  printf 'hello, goro\n' >"$root/hello.txt"
  LC_ALL=C awk 'BEGIN { for (i = 0; i < 65536; i++) printf "%c", i % 251 }' >"$root/64k.bin"
  for ((i = 0; i < 100; i++)); do printf 'file %d\n' "$i" >"$root/f$i.txt"; done
  chmod -R a+rX "$dir/http"
  chmod 755 "$dir"
  for _ in 1 2 3 4 5; do
    port=$(free_port) || return 1
    cat >"$dir/http/nginx.conf" <<EOF
worker_processes 1;
pid $dir/http/nginx.pid;
error_log $dir/http/error.log warn;
$([ "$(id -u)" -eq 0 ] && echo "user nobody nogroup;")
events { worker_connections 8192; }
worker_rlimit_nofile 20000;
http {
  access_log off;
  client_body_temp_path $dir/http/tmp/body;
  proxy_temp_path $dir/http/tmp/proxy;
  fastcgi_temp_path $dir/http/tmp/fastcgi;
  uwsgi_temp_path $dir/http/tmp/uwsgi;
  scgi_temp_path $dir/http/tmp/scgi;
  keepalive_requests 1000000;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$port;
    root $root;
  }
}
EOF
    if "$nginx" -e "$dir/http/error.log" -p "$dir/http" -c "$dir/http/nginx.conf" >"$dir/http/start.log" 2>&1 &&
        wait_for "(exec 3<>/dev/tcp/127.0.0.1/$port)" 5; then
      printf 'HTTP_URL=http://127.0.0.1:%s/\nHTTP_ROOT=%s\n' "$port" "$root" >>"$envfile"
      say "nginx on 127.0.0.1:$port serving $root"
      return 0
    fi
    stop_pidfile "$dir/http/nginx.pid"
  done
  say "nginx did not start; its log:"
  cat "$dir/http/start.log" "$dir/http/error.log" >&2 2>/dev/null
  return 1
}

# Sends SIGTERM to the pid in file $1, waits up to 10 s, then SIGKILL.
stop_pidfile() {
  local pid i
  [ -s "$1" ] || return 0
  pid=$(head -n 1 "$1")
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  return 0
}

stop_all() {
  local envfile=$1 dir="" bin="" user=""
  [ -f "$envfile" ] || return 0
  dir=$(sed -n 's/^GORO_SERVERS_DIR=//p' "$envfile")
  bin=$(sed -n 's/^PG_BINDIR=//p' "$envfile")
  user=$(sed -n 's/^PG_USER=//p' "$envfile")
  if [ -n "$dir" ] && [ -d "$dir" ]; then
    stop_pidfile "$dir/redis/redis.pid"
    stop_pidfile "$dir/http/nginx.pid"
    if [ -n "$bin" ] && [ -d "$dir/pg/data" ]; then
      run_as "$user" "$bin/pg_ctl" -D "$dir/pg/data" -m fast -w -t 20 stop >/dev/null 2>&1 ||
        stop_pidfile "$dir/pg/data/postmaster.pid"
    elif [ -f "$dir/pg/data/postmaster.pid" ]; then
      stop_pidfile "$dir/pg/data/postmaster.pid"
    fi
    case $dir in
      */goro-servers.*) rm -rf "$dir" ;;
    esac
  fi
  rm -f "$envfile"
}

main() {
  local cmd=${1:-} envfile=${2:-} dir want s
  if [ -z "$cmd" ] || [ -z "$envfile" ]; then
    echo "usage: servers.sh start ENVFILE [redis] [pg] [http] | servers.sh stop ENVFILE" >&2
    return 2
  fi
  shift 2
  case $cmd in
    start)
      want=${*:-redis pg http}
      stop_all "$envfile" # a leftover from an interrupted run
      mkdir -p "$(dirname "$envfile")"
      dir=$(mktemp -d "${TMPDIR:-/tmp}/goro-servers.XXXXXX") || return 1
      printf 'GORO_SERVERS_DIR=%s\n' "$dir" >"$envfile"
      for s in $want; do
        case $s in
          redis | pg | http) ;;
          *) say "unknown server '$s' (redis, pg, http)"; stop_all "$envfile"; return 2 ;;
        esac
        if ! "start_$s" "$dir" "$envfile"; then
          stop_all "$envfile"
          return 1
        fi
      done
      ;;
    stop) stop_all "$envfile" ;;
    *) echo "servers.sh: unknown command '$cmd'" >&2; return 2 ;;
  esac
}

main "$@"
