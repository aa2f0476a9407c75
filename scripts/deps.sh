# shellcheck shell=bash
# deps.sh - used by scripts/test.sh, scripts/demo.sh, scripts/install-test.sh,
# scripts/api.sh and .ci/run (sourced, not run).  Installs what a preset
# needs through apt, only when missing, as root or through sudo.

# Debian packages each preset needs beyond gcc, make and cmake.
# libhttp-parser-dev: examples/http_hello (optional; skipped without it).
GORO_DEPS_COMMON="pkg-config libcriterion-dev valgrind libhttp-parser-dev"
GORO_DEPS_AARCH64="qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
# The C client libraries and their servers: tests/test_libs_*.c, the
# redis_counter, pg_query and downloader examples, and benchmarks B11-B13
# (cmake/goro_libs.cmake finds the libraries; scripts/servers.sh starts the
# servers).  Optional: without them those are skipped.
GORO_DEPS_LIBS="redis-server redis-tools libhiredis-dev postgresql postgresql-contrib libpq-dev
  libcurl4-openssl-dev nginx-light"
# scripts/install-test.sh: cpack's DEB generator (dpkg-shlibdeps, file).
GORO_DEPS_PACKAGE="dpkg-dev file"
# scripts/fuzz.sh: clang with libFuzzer and the sanitizer runtimes.
GORO_DEPS_FUZZ="clang libclang-rt-14-dev"
# scripts/api.sh: the API reference (Doxygen) and the doc-comment checks
# (clang -Wdocumentation).
GORO_DEPS_DOC="doxygen clang"

goro_as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "goro: need root for: $*; run as root or install sudo" >&2
    return 1
  fi
}

# goro_apt_install PKG...: installs the packages not installed yet.
goro_apt_install() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "goro: missing ${missing[*]} and no apt-get here; install them by hand" >&2
    return 1
  fi
  echo "goro: installing ${missing[*]} through apt" >&2
  goro_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || return 1
  goro_as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 || return 1
}

# goro_deps_libs: GORO_DEPS_LIBS, saying what they are for when some are
# missing.  A failure is reported, not fatal: their tests then skip.
goro_deps_libs() {
  local p
  # shellcheck disable=SC2086 # word list on purpose
  for p in $GORO_DEPS_LIBS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
      echo "goro: installing the C client libraries and servers for the hiredis, libpq" \
        "and libcurl tests, examples and benchmarks (GORO_DEPS_LIBS in scripts/deps.sh)" >&2
      # shellcheck disable=SC2086
      goro_apt_install $GORO_DEPS_LIBS ||
        echo "goro: could not install them: those tests will be skipped" >&2
      return 0
    fi
  done
}

# goro_deps PRESET: everything PRESET needs, the arm64 Criterion included.
goro_deps() {
  local preset=$1
  # shellcheck disable=SC2086 # word lists on purpose
  case $preset in
    aarch64)
      goro_apt_install $GORO_DEPS_COMMON $GORO_DEPS_AARCH64
      "$GORO_ROOT/scripts/aarch64-sysroot.sh"
      ;;
    fuzz)
      goro_apt_install $GORO_DEPS_FUZZ
      ;;
    doc)
      goro_apt_install $GORO_DEPS_DOC
      ;;
    package)
      goro_apt_install $GORO_DEPS_COMMON $GORO_DEPS_PACKAGE
      ;;
    *)
      goro_apt_install $GORO_DEPS_COMMON
      goro_deps_libs
      ;;
  esac
}

# -DGORO_WERROR for configure: $GORO_WERROR if set, else ON under CI=true.
goro_werror() {
  if [ -n "${GORO_WERROR:-}" ]; then
    echo "$GORO_WERROR"
  elif [ "${CI:-}" = true ]; then
    echo ON
  else
    echo OFF
  fi
}

goro_jobs() {
  nproc 2>/dev/null || echo 2
}
