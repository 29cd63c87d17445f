#!/bin/sh
# quickstart.sh - the README's two commands, on a fresh Debian machine.
#
#   sh tools/quickstart.sh run    build, install under ./_install and run
#                                 the broker in the foreground on the
#                                 shipped config (Ctrl-C stops it)
#   sh tools/quickstart.sh test   build and run the whole test suite, also
#                                 under ASan+UBSan; the last line reads
#                                 "tests: N passed, M failed"
#
# Each installs the Debian packages it needs (as root, with apt-get) when
# they are missing. Builds happen out of tree, in _build and _build-asan.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

build_packages="autoconf automake libtool pkg-config make gcc libevent-dev
libyajl-dev libconfig-dev libcrypt-dev"
test_packages="libcriterion-dev valgrind"

say() { printf '==> %s\n' "$*" >&2; }

install_packages() {
    missing=
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
            missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    say "installing Debian packages:$missing"
    if [ "$(id -u)" -ne 0 ]; then
        echo "quickstart.sh: run as root to install:$missing" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq $missing >/dev/null
}

bootstrap() {
    if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ]; then
        say "autoreconf"
        (cd "$top" && autoreconf -fi >/dev/null)
    fi
}

# configure_in DIR [configure args...]
configure_in() {
    dir=$1
    shift
    mkdir -p "$dir"
    if [ ! -f "$dir/Makefile" ] || [ "$top/configure" -nt "$dir/Makefile" ]; then
        say "configure in $dir $*"
        (cd "$dir" && "$top/configure" -q "$@")
    fi
}

# Sum the per-test results automake's tap driver wrote.
count_results() {
    find "$1" -name '*.trs' -exec cat {} + 2>/dev/null |
        awk '/^:test-result: PASS/ {p++}
             /^:test-result: (FAIL|ERROR|XPASS)/ {f++}
             /^:test-result: SKIP/ {s++}
             END {printf "%d %d %d\n", p, f, s}'
}

# check_in DIR: run make check, print failing logs, leave counts in $result
check_in() {
    dir=$1
    rm -f "$dir"/tests/*/*.trs "$dir"/tests/*/*.log
    if ! make -C "$dir" -j"$jobs" check >"$dir/check.out" 2>&1; then
        grep -E '^(FAIL|ERROR)' "$dir/check.out" >&2 || tail -40 "$dir/check.out" >&2
        for log in $(grep -l -E '^not ok|Bail out' $(find "$dir/tests" -name '*.log') 2>/dev/null); do
            say "failures in $log"
            grep -E -A8 '^not ok' "$log" >&2 || true
        done
    fi
    result=$(count_results "$dir")
}

cmd_run() {
    install_packages $build_packages
    bootstrap
    configure_in "$top/_build" --prefix="$top/_install" \
        --sysconfdir="$top/_install/etc" --runstatedir="$top/_install/run" \
        --disable-tests
    say "make install (into $top/_install)"
    make -C "$top/_build" -j"$jobs" >/dev/null
    make -C "$top/_build" install >/dev/null
    say "starting mpbroker on $top/_install/etc/mpbroker.conf (Ctrl-C stops it)"
    say "demo user: name \"demo\", secret \"demo\"; listening on 127.0.0.1:7330, [::1]:7330"
    exec "$top/_install/sbin/mpbroker" -c "$top/_install/etc/mpbroker.conf"
}

cmd_test() {
    install_packages $build_packages $test_packages
    bootstrap

    configure_in "$top/_build-test" --enable-werror
    say "build and test (plain)"
    make -C "$top/_build-test" -j"$jobs" >/dev/null
    check_in "$top/_build-test"
    plain=$result

    configure_in "$top/_build-asan" --enable-werror --enable-sanitizers
    say "build and test (ASan+UBSan)"
    make -C "$top/_build-asan" -j"$jobs" >/dev/null
    check_in "$top/_build-asan"
    asan=$result

    set -- $plain $asan
    passed=$(($1 + $4))
    failed=$(($2 + $5))
    skipped=$(($3 + $6))
    echo "plain build: $1 passed, $2 failed, $3 skipped"
    echo "ASan+UBSan build: $4 passed, $5 failed, $6 skipped"
    if [ "$passed" -eq 0 ]; then
        failed=$((failed + 1))
        echo "no test ran" >&2
    fi
    echo "tests: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

case ${1:-} in
run) cmd_run ;;
test) cmd_test ;;
*)
    echo "usage: sh tools/quickstart.sh run|test" >&2
    exit 2
    ;;
esac
