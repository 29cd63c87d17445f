#!/bin/sh
# systemd-verify.sh BUILDDIR - check the generated systemd unit with
# `systemd-analyze verify`. The unit names the installed broker, which a
# build tree does not have, so a copy pointing at BUILDDIR's broker and
# shipped config is verified instead; the rest of the unit is unchanged.
# Prints "PASS systemd mpbroker.service" or "FAIL systemd ..." (and why);
# skips (exit 0, "SKIP ...") where systemd-analyze is missing. The man
# pages of Documentation= are checked by the install test, not here.
set -u
build=$1
unit=$build/conf/mpbroker.service

if ! command -v systemd-analyze >/dev/null 2>&1; then
    echo "SKIP systemd mpbroker.service (no systemd-analyze)"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
broker=$(cd "$build" && pwd)/broker/mpbroker
[ -x "$build/broker/.libs/lt-mpbroker" ] && broker=$(cd "$build" && pwd)/broker/.libs/lt-mpbroker
sed -e "s|^\(ExecStart[A-Za-z]*=\)[^ ]*/mpbroker |\1$broker |" "$unit" >"$tmp/mpbroker.service"
if out=$(cd "$tmp" && systemd-analyze verify --man=no ./mpbroker.service 2>&1) && [ -z "$out" ]; then
    echo "PASS systemd mpbroker.service"
else
    printf '%s\n' "$out" >&2
    echo "FAIL systemd mpbroker.service"
    exit 1
fi
