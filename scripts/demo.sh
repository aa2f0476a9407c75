#!/usr/bin/env bash
# demo.sh - install missing build dependencies (apt), build the default
# preset and run two examples: a worker pool and a graceful shutdown.
set -euo pipefail

GORO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/deps.sh
. "$GORO_ROOT/scripts/deps.sh"
cd "$GORO_ROOT"

goro_deps default
cmake --preset default -DGORO_WERROR="$(goro_werror)"
cmake --build --preset default -j "$(goro_jobs)"

for example in worker_pool graceful_shutdown; do
  bin=build/default/examples/$example
  if [ ! -x "$bin" ]; then
    echo "goro: example $example not built yet" >&2
    exit 1
  fi
  echo "== $example"
  "$bin"
done
