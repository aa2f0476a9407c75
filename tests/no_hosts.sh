#!/usr/bin/env bash
# no_hosts.sh TEST_IO - runs io::address_parsing (TEST_IO: the test_io
# binary) as on a machine without /etc/hosts, where "localhost" may not
# resolve: a user and mount namespace (unshare -rm) bind-mounts an empty
# file over /etc/hosts for the test only.  Exit 77 (ctest: skipped) where
# unprivileged namespaces are not permitted.
set -u
test_io=$1
if ! unshare -rm true 2>/dev/null; then
    echo "no_hosts: skipped: unshare -rm (user and mount namespaces) is not permitted here"
    exit 77
fi
empty=$(mktemp "${TMPDIR:-/tmp}/goro-nohosts.XXXXXX")
trap 'rm -f "$empty"' EXIT
: >"$empty"
# shellcheck disable=SC2016 # expanded by the inner shell
unshare -rm bash -c '
    mount --bind "$1" /etc/hosts || { echo "no_hosts: cannot bind-mount /etc/hosts"; exit 1; }
    if getent ahostsv4 localhost >/dev/null 2>&1; then
        echo "no_hosts: note: localhost resolves even without /etc/hosts here"
    fi
    exec "$2" --filter "io/address_parsing"' no_hosts "$empty" "$test_io"
rc=$?
exit $rc
