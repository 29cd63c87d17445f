#!/bin/sh
# quickstart.sh - the README's two commands, on a fresh Debian machine.
#
#   sh tools/quickstart.sh run    build, install under ./_install, start
#                                 the broker on the shipped config, run
#                                 the echo example through it, and keep
#                                 the broker in the foreground (Ctrl-C
#                                 stops it)
#   sh tools/quickstart.sh test   build and run the whole test suite, then
#                                 the integration tests with the broker
#                                 under valgrind, then everything again
#                                 under ASan+UBSan, then each libFuzzer
#                                 harness for $MP_FUZZ_SECONDS (30) s,
#                                 and a seconds-long benchmark smoke run;
#                                 the last line reads "tests: N passed,
#                                 M failed" (a test passes if it passed
#                                 in every run)
#
# Each installs the Debian packages it needs (as root, with apt-get) when
# they are missing. Builds happen out of tree, in _build and _build-asan.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

build_packages="autoconf automake libtool pkg-config make gcc libevent-dev
libyajl-dev libconfig-dev libcrypt-dev libssl-dev libsystemd-dev"
test_packages="libcriterion-dev valgrind openssl clang libclang-rt-dev systemd
mandoc python3-pytest python3-venv python3-setuptools python3-wheel"

. "$top/tools/packages.sh"

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

# results_in DIR: one "STATUS program test" line per test of the last
# `make check` there (automake's tap driver prints them).
results_in() {
    sed -n -E 's/^(PASS|FAIL|ERROR|SKIP|XPASS|XFAIL): ([^ ]+) [0-9]+ - ([^ ]+).*/\1 \2 \3/p' \
        "$1/check.out"
    # A program that crashed, exited non-zero or lost tests fails as a
    # whole ("ERROR: prog - too few tests run"), even if each test it
    # reported passed.
    sed -n -E 's/^ERROR: ([^ ]+) - .*/ERROR \1 (program)/p' "$1/check.out" | sort -u
}

# check_in DIR [make args...]: run make check, show what failed.
check_in() {
    dir=$1
    shift
    if ! make -C "$dir" -j"$jobs" check "$@" >"$dir/check.out" 2>&1; then
        grep -E '^(FAIL|ERROR|XPASS)' "$dir/check.out" >&2 || tail -40 "$dir/check.out" >&2
        for log in $(grep -l -E '^not ok|Bail out' $(find "$dir/tests" -name '*.log') 2>/dev/null); do
            say "failures in $log"
            grep -E -A12 '^not ok' "$log" >&2 || true
        done
    fi
}

# summarize NAME FILE: print the counts of one run.
summarize() {
    awk -v name="$1" '
        $1 == "PASS" || $1 == "XFAIL" {p++}
        $1 == "FAIL" || $1 == "ERROR" || $1 == "XPASS" {f++}
        $1 == "SKIP" {s++}
        END {printf "%s: %d passed, %d failed, %d skipped\n", name, p, f, s}' "$2"
}

# wait_for_line FILE TEXT SECONDS: until TEXT appears in FILE.
wait_for_line() {
    i=0
    while ! grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ "$i" -gt $(($3 * 10)) ] && return 1
        sleep 0.1
    done
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

    # The shipped config drops root for the user "mpbroker".
    if ! id mpbroker >/dev/null 2>&1; then
        say "creating the system user mpbroker"
        useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin mpbroker
    fi
    chgrp mpbroker "$top/_install/etc/mpbroker.passwd"
    chmod 640 "$top/_install/etc/mpbroker.passwd"

    log="$top/_install/mpbroker.log"
    : >"$log"
    say "starting mpbroker on $top/_install/etc/mpbroker.conf"
    "$top/_install/sbin/mpbroker" -c "$top/_install/etc/mpbroker.conf" 2>"$log" &
    broker=$!
    tail -n +1 -f "$log" &
    tailer=$!
    trap 'kill $tailer 2>/dev/null' EXIT
    if ! wait_for_line "$log" "notice: ready" 20; then
        say "the broker did not start; see above"
        exit 1
    fi

    say "demo: echo_server logs in as \"echo\", echo_client as \"alice\" (secret \"demo\")"
    "$top/_build/examples/echo_server" -n echo -s demo &
    server=$!
    if wait_for_line "$log" "client echo logged in" 20; then
        "$top/_build/examples/echo_client" -n alice -s demo -p echo \
            "hello from alice" "and goodbye" || say "echo_client failed"
    else
        say "echo_server did not log in"
    fi
    kill -TERM $server 2>/dev/null
    wait $server 2>/dev/null || true

    say "mpbroker keeps running (tcp 127.0.0.1:7330 and [::1]:7330, unix $top/_install/run/mpbroker/mpbroker.sock; users demo, echo, alice with secret \"demo\"). Ctrl-C stops it."
    trap 'kill -INT $broker 2>/dev/null' INT TERM
    wait $broker || true
    wait $broker 2>/dev/null || true
}

# install_check DIR RESULTS: `make install DESTDIR=...`, build the echo
# examples out of tree with pkg-config against what was installed, and run
# them through the installed broker with the installed plugins. Appends
# one result line ("PASS install pkg_config_echo" or FAIL) to RESULTS.
install_check() {
    dir=$1
    stage=$(mktemp -d)
    status=FAIL
    prefix=$(sed -n 's/^prefix = //p' "$dir/Makefile")
    root="$stage$prefix"
    if ! make -C "$dir" install DESTDIR="$stage" >"$stage/install.out" 2>&1; then
        cat "$stage/install.out" >&2
        echo "FAIL install pkg_config_echo" >>"$2"
        rm -rf "$stage"
        return
    fi
    flags=$(PKG_CONFIG_SYSROOT_DIR="$stage" PKG_CONFIG_PATH="$root/lib/pkgconfig" \
        pkg-config --cflags --libs libmpclient)
    printf '%s\n' "plugin_dir = \"$root/lib/mpbroker\"; allow_root = true;" \
        'authenticators = ( { module = "auth_allow_all.so"; } );' \
        "listeners = ( { unix = \"$stage/mp.sock\"; translator = \"auto\"; } );" \
        >"$stage/test.conf"
    if cc -o "$stage/echo_server" "$top/examples/echo_server.c" $flags &&
        cc -o "$stage/echo_client" "$top/examples/echo_client.c" $flags; then
        "$root/sbin/mpbroker" -c "$stage/test.conf" 2>"$stage/broker.log" &
        broker=$!
        if wait_for_line "$stage/broker.log" "notice: ready" 20; then
            LD_LIBRARY_PATH="$root/lib" "$stage/echo_server" -a "unix:$stage/mp.sock" \
                >"$stage/server.out" 2>&1 &
            server=$!
            if wait_for_line "$stage/broker.log" "client echo logged in" 20 &&
                LD_LIBRARY_PATH="$root/lib" "$stage/echo_client" \
                    -a "unix:$stage/mp.sock" -f json installed >"$stage/client.out" 2>&1 &&
                grep -q "got 'installed' back from echo" "$stage/client.out"; then
                status=PASS
            fi
            kill -TERM $server 2>/dev/null
            wait $server 2>/dev/null
        fi
        kill -TERM $broker 2>/dev/null
        wait $broker || status=FAIL
    fi
    if [ "$status" = FAIL ]; then
        say "install check failed"
        cat "$stage"/*.log "$stage"/*.out >&2 2>/dev/null
    fi
    echo "$status install pkg_config_echo" >>"$2"
    rm -rf "$stage"
}

# python_check BUILDDIR RESULTS: `pip install` the Python client into a
# fresh venv (offline: Debian's setuptools, no build isolation) and import
# it from there; then its pytest suite against BUILDDIR's broker, mpcat
# and examples. Appends "PASS python ..." lines to RESULTS.
python_check() {
    dir=$(cd "$1" && pwd)
    venv=$(mktemp -d)
    if /usr/bin/python3 -m venv --system-site-packages "$venv/env" >"$venv/pip.out" 2>&1 &&
        "$venv/env/bin/pip" install -q --no-build-isolation --no-index \
            "$top/clients/python" >>"$venv/pip.out" 2>&1 &&
        (cd "$venv" && "$venv/env/bin/python" -c \
            'import mpclient, sys; sys.exit(not mpclient.__file__.startswith(sys.argv[1]))' \
            "$venv/env") >>"$venv/pip.out" 2>&1; then
        echo "PASS python pip_install" >>"$2"
    else
        cat "$venv/pip.out" >&2
        echo "FAIL python pip_install" >>"$2"
    fi
    rm -rf "$venv"
    MPBROKER="$dir/broker/mpbroker" MP_PLUGIN_BUILD_DIR="$dir/plugins/.libs" \
        MPCAT="$dir/tools/mpcat" MP_EXAMPLES_DIR="$dir/examples" \
        sh "$top/clients/python/run-tests.sh" --results "$2.pytest" >&2 || :
    cat "$2.pytest" >>"$2" 2>/dev/null || echo "FAIL python pytest" >>"$2"
    rm -f "$2.pytest"
}

integration_tests="test_auth test_routing test_formats test_limits test_config
test_lifecycle test_transcript test_client test_mpcat test_examples test_acl
test_backpressure test_tls test_badinput test_faults test_metrics test_gob test_reload
test_hostile test_hashing"

cmd_test() {
    install_packages $build_packages $test_packages
    bootstrap
    results=$(mktemp -d)
    trap 'rm -rf "$results"' EXIT

    configure_in "$top/_build-test" --enable-werror
    say "build and test (plain)"
    make -C "$top/_build-test" -j"$jobs" >/dev/null
    check_in "$top/_build-test"
    results_in "$top/_build-test" >"$results/plain"

    # The broker of every integration test under valgrind: each must exit
    # 0 without leaks or memory errors.
    say "integration tests with the broker under valgrind"
    tests=
    for t in $integration_tests; do tests="$tests tests/integration/$t"; done
    check_in "$top/_build-test" TESTS="$tests" \
        MP_BROKER_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"
    results_in "$top/_build-test" >"$results/valgrind"

    # libmpclient's own tests under valgrind (criterion's test processes
    # are followed; the broker they start is not).
    say "libmpclient tests under valgrind"
    check_in "$top/_build-test" TESTS="tests/integration/test_client tests/integration/test_client_hostile tests/integration/test_tls" \
        MP_TEST_WRAPPER="valgrind -q --trace-children=yes --trace-children-skip=*mpbroker*,*lt-mpbroker*,*openssl*,*/sh --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"
    results_in "$top/_build-test" >"$results/valgrind-client"

    say "install check: out-of-tree build with pkg-config, installed broker"
    : >"$results/install"
    install_check "$top/_build-test" "$results/install"
    sh "$top/tests/systemd-verify.sh" "$top/_build-test" >>"$results/install" || :
    sh "$top/tests/man-lint.sh" "$top" | grep -E "^(PASS|FAIL) " >>"$results/install" || :

    say "Debian packages: build, lintian, install, run, purge"
    sh "$top/tests/deb-check.sh" "$top" "$results/install" >&2 || :

    say "Python client: pip install, then its tests"
    : >"$results/python"
    python_check "$top/_build-test" "$results/python"

    # bench/compare.sh at a fraction of a second per target, so that
    # mpbench, the relay and every peer's driver keep working.
    say "benchmark smoke run: mpbroker, nats-server, mosquitto, redis-server, relay"
    sh "$top/bench/compare.sh" --build-dir "$top/_build-test" --smoke \
        2>"$results/bench.err" | grep -E '^(PASS|FAIL) ' >"$results/bench" || :
    if [ ! -s "$results/bench" ] || grep -q '^FAIL' "$results/bench"; then
        cat "$results/bench.err" >&2
        [ -s "$results/bench" ] || echo "FAIL bench smoke" >"$results/bench"
    fi

    # The release tarball builds, passes its tests and installs cleanly
    # (distcheck runs the plain suite once more, from the tarball).
    say "make distcheck"
    if make -C "$top/_build-test" -j"$jobs" distcheck >"$results/distcheck.out" 2>&1; then
        echo "PASS dist distcheck" >>"$results/install"
    else
        tail -n 40 "$results/distcheck.out" >&2
        echo "FAIL dist distcheck" >>"$results/install"
    fi

    configure_in "$top/_build-asan" --enable-werror --enable-sanitizers
    say "build and test (ASan+UBSan)"
    make -C "$top/_build-asan" -j"$jobs" >/dev/null
    check_in "$top/_build-asan"
    results_in "$top/_build-asan" >"$results/asan"

    say "fuzzing: each harness for ${MP_FUZZ_SECONDS:-30} s"
    sh "$top/tools/fuzz.sh" "${MP_FUZZ_SECONDS:-30}" >"$results/fuzz" ||
        say "a fuzz harness failed (see above)"
    grep -E '^(PASS|FAIL) ' "$results/fuzz" >"$results/fuzz.results" || :
    [ -s "$results/fuzz.results" ] || echo "FAIL fuzz harnesses" >"$results/fuzz.results"

    summarize "plain build" "$results/plain"
    summarize "broker under valgrind" "$results/valgrind"
    summarize "libmpclient under valgrind" "$results/valgrind-client"
    summarize "ASan+UBSan build" "$results/asan"
    summarize "install check" "$results/install"
    summarize "Python client" "$results/python"
    summarize "benchmark smoke" "$results/bench"
    summarize "fuzzing" "$results/fuzz.results"
    # A test passes when it passed in every run it is part of.
    cat "$results/plain" "$results/valgrind" "$results/valgrind-client" \
        "$results/asan" "$results/install" "$results/python" "$results/bench" \
        "$results/fuzz.results" | awk '
        {key = $2 " " $3; seen[key] = 1}
        $1 == "FAIL" || $1 == "ERROR" || $1 == "XPASS" {bad[key] = 1}
        $1 == "PASS" || $1 == "XFAIL" {good[key] = 1}
        END {
            for (k in seen) {
                if (k in bad) f++; else if (k in good) p++; else sk++
            }
            if (p + f == 0) { print "no test ran" > "/dev/stderr"; f = 1 }
            if (sk) printf "skipped everywhere: %d\n", sk
            printf "tests: %d passed, %d failed\n", p, f
            exit f > 0
        }'
}

case ${1:-} in
run) cmd_run ;;
test) cmd_test ;;
*)
    echo "usage: sh tools/quickstart.sh run|test" >&2
    exit 2
    ;;
esac
