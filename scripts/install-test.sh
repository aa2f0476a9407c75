#!/usr/bin/env bash
# install-test.sh [--no-system] [STEP...] - what a user of an installed goro
# does, on the release build (build/release; configured and built here when
# missing).  Steps (default: all, in this order):
#
#   prefix      `cmake --install` into a scratch prefix; tests/install_consumer
#               through find_package (shared and static), pkg-config with an
#               rpath, and the static libgoro.a; libgoro.so must export the
#               goro_* API and the interposed C library names of
#               cmake/hook-symbols.txt, nothing else (no goro__ internals, no
#               test hooks)
#   usrlocal    the README's install into /usr/local, then `ldconfig`, then a
#               plain `cc main.c $(pkg-config --cflags --libs goro)` program
#               with no rpath.  Runs in a private mount namespace with
#               throw-away overlays on /usr/local and /etc, so the machine
#               is left as it was (root and unshare needed, else skipped)
#   sanitizers  tests/vendor_consumer (goro vendored with add_subdirectory)
#               built with -DCMAKE_C_FLAGS=-fsanitize=thread, then =address:
#               it must configure as GORO_SANITIZE, build and run clean.  Both
#               are then installed into the prefix beside the plain build
#               (goro-tsan, goro-asan) and used through pkg-config and
#               find_package; goro-tsan must report the data race in
#               tests/install_consumer/race.c
#   deb         cpack: libgoro0 and libgoro-dev; `apt-get install ./*.deb`,
#               the consumer against /usr (pkg-config, find_package, no
#               rpath), then `apt-get purge` (as root or through sudo).  With
#               --no-system the packages are built and inspected, not
#               installed.
#
# Environment: GORO_BUILD_DIR (default build/release), GORO_KEEP=1 keeps the
# scratch directory.
set -euo pipefail

GORO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/deps.sh
. "$GORO_ROOT/scripts/deps.sh"
cd "$GORO_ROOT"

system=1
steps=()
for a in "$@"; do
  case $a in
    --no-system) system=0 ;;
    prefix|usrlocal|sanitizers|deb) steps+=("$a") ;;
    *) echo "usage: $0 [--no-system] [prefix|usrlocal|sanitizers|deb]..." >&2; exit 2 ;;
  esac
done
[ ${#steps[@]} -gt 0 ] || steps=(prefix usrlocal sanitizers deb)

goro_deps package
build=${GORO_BUILD_DIR:-build/release}
if [ ! -f "$build/CPackConfig.cmake" ] || [ ! -e "$build/libgoro.so" ]; then
  cmake --preset release -DGORO_WERROR="$(goro_werror)" >/dev/null
  cmake --build --preset release -j "$(goro_jobs)"
fi
build=$(cd "$build" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/goro-install.XXXXXX")
if [ "${GORO_KEEP:-}" = 1 ]; then
  echo "install-test: scratch directory $work"
else
  trap 'rm -rf "$work"' EXIT
fi
prefix=$work/prefix
consumer=$GORO_ROOT/tests/install_consumer
cc=${CC:-cc}
cflags=(-std=c11 -Wall -Wextra -Werror)
is_root() { [ "$(id -u)" -eq 0 ]; }
can_root() { is_root || sudo -n true 2>/dev/null; }
root_apt() { goro_as_root env DEBIAN_FRONTEND=noninteractive apt-get "$@"; }

say() { echo "install-test: $*"; }
fail() { echo "install-test: FAILED: $*" >&2; exit 1; }

# expect_ok [env VAR=VALUE...] PROGRAM: runs it; it must print exactly "ok".
expect_ok() {
  local out
  out=$("$@" 2>&1) || fail "$* exited $?: $out"
  [ "$out" = ok ] || fail "$* printed: $out"
  say "$(basename "${!#}"): ok"
}

# cmake_consumer DIR [ARGS...]: configures, builds and runs
# tests/install_consumer's find_package programs in DIR.
cmake_consumer() {
  local dir=$1
  shift
  cmake -S "$consumer" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >"$dir.log" 2>&1 ||
    fail "configuring the find_package consumer: $(cat "$dir.log")"
  cmake --build "$dir" >>"$dir.log" 2>&1 || fail "building the consumer: $(cat "$dir.log")"
  expect_ok "$dir/consumer"
  expect_ok "$dir/consumer_static"
}

step_prefix() {
  cmake --install "$build" --prefix "$prefix" >/dev/null
  local pc=(env PKG_CONFIG_PATH="$prefix/lib/pkgconfig")
  # Shared, found through an rpath (the README's "other prefixes").
  # shellcheck disable=SC2046 # pkg-config output is meant to split
  $cc "${cflags[@]}" "$consumer/main.c" $("${pc[@]}" pkg-config --cflags --libs goro) \
    -Wl,-rpath,"$("${pc[@]}" pkg-config --variable=libdir goro)" -o "$work/pc_shared"
  expect_ok "$work/pc_shared"
  # Static: the archive itself; the program must not need libgoro.so.
  # shellcheck disable=SC2046
  $cc "${cflags[@]}" "$consumer/main.c" $("${pc[@]}" pkg-config --cflags goro) \
    "$("${pc[@]}" pkg-config --variable=libdir goro)/libgoro.a" -lpthread -o "$work/pc_static"
  if readelf -d "$work/pc_static" | grep -q 'NEEDED.*libgoro'; then
    fail "the static consumer needs libgoro.so"
  fi
  expect_ok "$work/pc_static"
  cmake_consumer "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix"
  # What libgoro.so exports: the API, nothing else.
  local bad
  # Besides the API: the C library names goro interposes (src/hook.c).
  bad=$(nm -D --defined-only "$prefix/lib/libgoro.so" |
        awk '{print $3}' | grep -Ev '^goro_[a-z0-9]' | grep -Ev '^(_init|_fini|_edata|_end|__bss_start)$' |
        grep -vxF -f <(grep -v '^#' "$GORO_ROOT/cmake/hook-symbols.txt") || true)
  bad+=$(nm -D --defined-only "$prefix/lib/libgoro.so" | awk '{print $3}' | grep -E '^goro__' || true)
  [ -z "$bad" ] || fail "libgoro.so exports more than the goro_* API and cmake/hook-symbols.txt: $bad"
  say "libgoro.so exports $(nm -D --defined-only "$prefix/lib/libgoro.so" | grep -c ' goro_') goro_* symbols, nothing else"
  readelf -d "$prefix/lib/libgoro.so" | grep -q 'SONAME.*\[libgoro\.so\.0\]' || fail "SONAME is not libgoro.so.0"
}

# The body of step_usrlocal, run inside the private mount namespace.
usrlocal_inside() {
  local t=$work/overlay
  mkdir -p "$t"
  mount -t tmpfs goro-install "$t"
  local d
  for d in usr/local etc; do
    mkdir -p "$t/$d/upper" "$t/$d/work"
    mount -t overlay goro-install -o "lowerdir=/$d,upperdir=$t/$d/upper,workdir=$t/$d/work" "/$d"
  done
  # The README, word for word.
  cmake --install "$build" --prefix /usr/local >/dev/null
  # shellcheck disable=SC2046
  $cc "${cflags[@]}" "$consumer/main.c" $(pkg-config --cflags --libs goro) -o "$work/usrlocal"
  if "$work/usrlocal" >/dev/null 2>&1; then
    say "note: the /usr/local program ran before ldconfig (LD_LIBRARY_PATH or an old cache)"
  else
    say "before ldconfig the /usr/local program does not start, as the README says"
  fi
  ldconfig
  expect_ok "$work/usrlocal"
  cmake_consumer "$work/cmake-usrlocal"
}

step_usrlocal() {
  if ! is_root; then
    say "usrlocal: skipped (needs root for a private mount namespace)"
    return 0
  fi
  if ! unshare -m --propagation private true 2>/dev/null; then
    say "usrlocal: skipped (unshare -m not permitted here)"
    return 0
  fi
  export -f usrlocal_inside expect_ok cmake_consumer say fail
  export work build consumer cc
  # Arrays do not cross `export`: pass the flags as a string.
  # shellcheck disable=SC2016 # expanded by the inner bash
  GORO_CFLAGS="${cflags[*]}" unshare -m --propagation private \
    bash -c 'set -euo pipefail; read -ra cflags <<<"$GORO_CFLAGS"; usrlocal_inside'
}

# sanitizer_build MODE(thread|address) SHORT(tsan|asan): the vendored build,
# its programs, then its install beside the plain one.
sanitizer_build() {
  local mode=$1 short=$2
  local dir=$work/vendor-$short
  local env=(env "TSAN_OPTIONS=halt_on_error=1" "ASAN_OPTIONS=detect_leaks=0")
  cmake -S tests/vendor_consumer -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_FLAGS="-fsanitize=$mode" >"$dir.log" 2>&1 || fail "configuring $dir: $(cat "$dir.log")"
  grep -q "building as GORO_SANITIZE=$mode" "$dir.log" ||
    fail "-fsanitize=$mode in CMAKE_C_FLAGS did not select GORO_SANITIZE=$mode"
  cmake --build "$dir" -j "$(goro_jobs)" >>"$dir.log" 2>&1 || fail "building $dir: $(tail -30 "$dir.log")"
  expect_ok "${env[@]}" "$dir/vendor_chan"
  "${env[@]}" "$dir/vendor_worker_pool" >"$dir.run" 2>&1 ||
    fail "vendor_worker_pool (-fsanitize=$mode): $(cat "$dir.run")"
  say "vendor_worker_pool (-fsanitize=$mode): ok"

  cmake --install "$dir" --prefix "$prefix" >/dev/null
  local pc=(env PKG_CONFIG_PATH="$prefix/lib/pkgconfig")
  # shellcheck disable=SC2046
  $cc "${cflags[@]}" -g "$consumer/main.c" $("${pc[@]}" pkg-config --cflags --libs "goro-$short") \
    -Wl,-rpath,"$prefix/lib" -o "$work/pc_$short"
  expect_ok "${env[@]}" "$work/pc_$short"
  cmake_consumer "$work/cmake-$short" -DCMAKE_PREFIX_PATH="$prefix" -DGORO_PACKAGE="goro-$short"
  if [ "$mode" = thread ]; then
    # shellcheck disable=SC2046
    $cc "${cflags[@]}" -g "$consumer/race.c" $("${pc[@]}" pkg-config --cflags --libs goro-tsan) \
      -Wl,-rpath,"$prefix/lib" -o "$work/race_tsan"
    TSAN_OPTIONS=exitcode=0 "$work/race_tsan" >"$work/race.out" 2>&1 || true
    grep -q 'WARNING: ThreadSanitizer: data race' "$work/race.out" ||
      fail "goro-tsan did not report the race in race.c: $(cat "$work/race.out")"
    say "race_tsan: the data race is reported"
  fi
}

step_sanitizers() {
  [ -e "$prefix/lib/libgoro.so" ] || cmake --install "$build" --prefix "$prefix" >/dev/null
  sanitizer_build thread tsan
  sanitizer_build address asan
  local f
  for f in libgoro.so.0 libgoro-tsan.so.0 libgoro-asan.so.0 libgoro.a libgoro-tsan.a \
           pkgconfig/goro.pc pkgconfig/goro-tsan.pc pkgconfig/goro-asan.pc \
           cmake/goro/goroConfig.cmake cmake/goro-tsan/goro-tsanConfig.cmake; do
    [ -e "$prefix/lib/$f" ] || fail "side-by-side install: no lib/$f"
  done
  # The plain build is still the plain build.
  if [ -x "$work/pc_shared" ]; then
    expect_ok "$work/pc_shared"
    nm -D "$work/pc_shared" | grep -q __tsan && fail "the plain consumer pulls in TSan"
  fi
  say "goro, goro-tsan and goro-asan installed side by side"
}

step_deb() {
  local debs=$work/deb
  (cd "$build" && cpack -G DEB -B "$debs" >"$debs.log" 2>&1) || fail "cpack: $(cat "$debs.log")"
  local v rt dev
  v=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
  rt=$(echo "$debs"/libgoro0_"$v"_*.deb)
  dev=$(echo "$debs"/libgoro-dev_"$v"_*.deb)
  if [ ! -f "$rt" ] || [ ! -f "$dev" ]; then fail "cpack made: $(ls "$debs")"; fi
  # (Listings in variables: grep -q would cut dpkg-deb's pipe short.)
  local rt_files dev_files f
  rt_files=$(dpkg-deb -c "$rt")
  dev_files=$(dpkg-deb -c "$dev")
  grep -q '/usr/lib/libgoro\.so\.0 ' <<<"$rt_files" || fail "libgoro0 has no libgoro.so.0: $rt_files"
  grep -Eq '\.(h|a|pc)$|libgoro\.so ' <<<"$rt_files" && fail "libgoro0 carries development files: $rt_files"
  for f in usr/include/goro.h usr/lib/libgoro.a usr/lib/libgoro.so usr/lib/pkgconfig/goro.pc \
           usr/lib/cmake/goro/goroConfig.cmake usr/share/goro/gdb/goro-gdb.py; do
    grep -q " \./$f" <<<"$dev_files" || fail "libgoro-dev has no /$f: $dev_files"
  done
  dpkg-deb -f "$dev" Depends | grep -q "libgoro0 (= $v)" || fail "libgoro-dev does not depend on libgoro0 (= $v)"
  dpkg-deb -f "$rt" Depends | grep -q libc6 || fail "libgoro0 has no libc6 dependency (dpkg-shlibdeps)"
  say "packages: $(basename "$rt") $(basename "$dev")"

  if [ $system = 0 ] || ! can_root; then
    say "deb: not installed (--no-system, or neither root nor sudo)"
    return 0
  fi
  if dpkg-query -W libgoro0 libgoro-dev >/dev/null 2>&1; then
    say "deb: libgoro0 or libgoro-dev is already installed here; not touching it"
    return 0
  fi
  # Whatever happens from here on, the packages go again.
  trap 'root_apt purge -y -q libgoro0 libgoro-dev >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
  root_apt install -y -q --no-install-recommends "$rt" "$dev" \
    >"$debs.apt" 2>&1 || fail "apt-get install: $(cat "$debs.apt")"
  # shellcheck disable=SC2046
  $cc "${cflags[@]}" "$consumer/main.c" $(pkg-config --cflags --libs goro) -o "$work/deb_consumer"
  expect_ok "$work/deb_consumer"
  cmake_consumer "$work/cmake-deb"
  root_apt purge -y -q libgoro0 libgoro-dev >/dev/null
  if dpkg-query -W -f='${Status}' libgoro0 2>/dev/null | grep -q installed || [ -e /usr/include/goro.h ]; then
    fail "apt-get purge left goro behind"
  fi
  say "deb: installed, used and purged"
}

for s in "${steps[@]}"; do
  start=$SECONDS
  "step_$s"
  say "$s: ok ($((SECONDS - start)) s)"
done
say "PASS (${steps[*]})"
