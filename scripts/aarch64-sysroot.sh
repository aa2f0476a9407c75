#!/usr/bin/env bash
# aarch64-sysroot.sh [DIR] - unpack Criterion for arm64 into DIR (default
# build/_sysroot/aarch64), for the aarch64 preset.
#
# Debian 12 cannot install libcriterion-dev:arm64 next to libcriterion-dev
# (amd64): its dependencies libnanomsg5 and libhttp-parser-dev are not
# Multi-Arch: same, so apt removes the amd64 Criterion.  Instead this script
# downloads the arm64 .debs of Criterion and its run-time closure with a
# private apt state (no dpkg --add-architecture, no root) and unpacks them
# with dpkg-deb.  glibc comes from libc6-dev-arm64-cross, as for the
# compiler.  Does nothing when DIR is already complete.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-${GORO_AARCH64_SYSROOT:-$root/build/_sysroot/aarch64}}
stamp=$dest/.goro-sysroot
[ -f "$stamp" ] && exit 0

work=$(mktemp -d "${TMPDIR:-/tmp}/goro-arm64-apt.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/debs" "$work/root"
apt_opts=(
  -o APT::Architecture=arm64 -o APT::Architectures::=arm64
  -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache"
  -o Dir::State::status=/dev/null -o Debug::NoLocking=1
  -o APT::Sandbox::User="$(id -un)"
)

echo "goro: fetching Criterion for arm64 into $dest" >&2
apt-get "${apt_opts[@]}" -q update >&2
# Criterion's run-time closure, less what the cross toolchain provides.
mapfile -t pkgs < <(
  apt-cache "${apt_opts[@]}" depends --recurse --no-recommends --no-suggests \
      --no-conflicts --no-breaks --no-replaces --no-enhances libcriterion3 |
    grep -v '^[ <]' | sort -u |
    grep -vxE 'libc6|libgcc-s1|gcc-[0-9]+-base|libcrypt1')
(cd "$work/debs" && apt-get "${apt_opts[@]}" -q download libcriterion-dev "${pkgs[@]}" >&2)
for deb in "$work"/debs/*.deb; do
  dpkg-deb -x "$deb" "$work/root"
done
if [ ! -e "$work/root/usr/lib/aarch64-linux-gnu/libcriterion.so" ]; then
  echo "goro: arm64 Criterion download incomplete" >&2
  exit 1
fi
(cd "$work/debs" && ls) > "$work/root/.goro-sysroot"
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
mv "$work/root" "$dest"
