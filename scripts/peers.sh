#!/usr/bin/env bash
# scripts/peers.sh DIR - builds the C coroutine libraries that bench/run can
# compare goro with (docs/benchmarks.md, "Peers") in DIR, outside this
# repository: libdill (cmake, static, -O3) and neco (one file, cc -O2), at
# the commits the recorded numbers used.  Then:
#   GORO_PEER_LIBDILL=DIR/libdill/build GORO_PEER_NECO=DIR/neco/build bench/run
# Needs git, cmake and a C compiler, and network access to GitHub (or
# GORO_PEER_GIT, a folder holding libdill/ and neco/ clones, instead).
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 DIR" >&2; exit 2; }
mkdir -p "$1"
DIR=$(cd "$1" && pwd)
LIBDILL_COMMIT=32d0e8b733416208e0412a56490332772bc5c6e1
NECO_COMMIT=9e8e19e4bc3592d4d071a2ab2c8069c773c465ae

get() { # name url commit
  local src=${GORO_PEER_GIT:+$GORO_PEER_GIT/$1}
  [[ -d $DIR/$1/.git ]] || git clone -q "${src:-$2}" "$DIR/$1"
  git -C "$DIR/$1" -c advice.detachedHead=false checkout -q "$3"
}

get libdill https://github.com/sustrik/libdill "$LIBDILL_COMMIT"
cmake -S "$DIR/libdill" -B "$DIR/libdill/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$DIR/libdill/build" -j "$(nproc)" --target dill >/dev/null
cp "$DIR/libdill/libdill.h" "$DIR/libdill/build/"

get neco https://github.com/tidwall/neco "$NECO_COMMIT"
mkdir -p "$DIR/neco/build"
cc -O2 -DNDEBUG -c "$DIR/neco/neco.c" -o "$DIR/neco/build/neco.o"
ar rcs "$DIR/neco/build/libneco.a" "$DIR/neco/build/neco.o"
cp "$DIR/neco/neco.h" "$DIR/neco/build/"
echo "GORO_PEER_LIBDILL=$DIR/libdill/build GORO_PEER_NECO=$DIR/neco/build"
