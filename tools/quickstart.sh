#!/bin/sh
# quickstart.sh - the README's two commands, on a fresh Debian machine.
#
#   sh tools/quickstart.sh run    build, install under ./_install, start
#                                 the broker on the shipped config, run
#                                 the echo example through it, and keep
#                                 the broker in the foreground (Ctrl-C
#                                 stops it)
#   sh tools/quickstart.sh env    print the shell lines that put what
#                                 `run` installed first in PATH, MANPATH,
#                                 LD_LIBRARY_PATH and PKG_CONFIG_PATH:
#                                 eval "$(sh tools/quickstart.sh env)"
#   sh tools/quickstart.sh cluster  build, then run tools/cluster-demo.sh:
#                                 a redis-server and three brokers on
#                                 loopback, an echo from a client on
#                                 broker 3 to a server on broker 1, and
#                                 everything stopped again
#   sh tools/quickstart.sh test   build and run the whole test suite, then
#                                 the integration tests with the broker
#                                 under valgrind, the install checks, the
#                                 Python client's tests, the JavaScript
#                                 client's tests with the web demo in
#                                 headless Chromium and the interop tests
#                                 (tests/js/run.sh), the Java client's
#                                 tests and its interop tests
#                                 (clients/java/run-tests.sh), a seconds-long
#                                 benchmark smoke run, then everything
#                                 again under ASan+UBSan, then each
#                                 libFuzzer harness for $MP_FUZZ_SECONDS
#                                 (15) s; the last line reads "tests: N
#                                 passed, M failed" (a test passes if it
#                                 passed in every run)
#
# Each installs the Debian packages it needs (as root, with apt-get) when
# they are missing; `test` also installs Node (Debian's nodejs and npm,
# unless a node is already in PATH) and Chromium. Builds happen out of
# tree, in _build, _build-test and _build-asan; the JavaScript packages
# come from the npm registry (npm ci in clients/js and tests/js).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)

build_packages="autoconf automake libtool pkg-config make gcc libevent-dev
libyajl-dev libconfig-dev libcrypt-dev libssl-dev libsystemd-dev libhiredis-dev"
test_packages="libcriterion-dev valgrind openssl clang libclang-rt-dev systemd
mandoc python3-pytest python3-venv python3-setuptools python3-wheel
redis-server socat protobuf-c-compiler libprotobuf-c-dev protobuf-compiler
python3-protobuf openjdk-17-jdk-headless ant junit5"

. "$top/tools/packages.sh"

# js_packages: what the JavaScript stage needs and lacks. A node already
# in PATH (e.g. a newer one from another source) is kept: Debian's nodejs
# and npm come only without one.
js_packages() {
    if ! command -v node >/dev/null 2>&1; then
        echo nodejs npm
    elif ! command -v npm >/dev/null 2>&1; then
        echo npm
    fi
    echo chromium
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

# test_programs DIR: every test program of the suite (make knows them).
test_programs() {
    make -s -C "$1" print-tests
}

# client_programs DIR: the test programs linked with libmpclient, as the
# built binaries say (run after a `make check` built them).
client_programs() {
    for p in $(test_programs "$1"); do
        bin="$1/$(dirname "$p")/.libs/$(basename "$p")"
        [ -f "$bin" ] || bin="$1/$p"
        objdump -p "$bin" 2>/dev/null | grep -q 'NEEDED.*libmpclient' && echo "$p"
    done
}

# build_in DIR RESULTS: make in DIR; a failure is one ERROR line in
# RESULTS (the tests that then do not build say the rest).
build_in() {
    if ! make -C "$1" -j"$jobs" >"$1/build.out" 2>&1; then
        tail -n 40 "$1/build.out" >&2
        echo "ERROR build $1" >>"$2"
    fi
}

# check_in DIR PROGRAMS [make args...]: make check of PROGRAMS, show what
# failed, and leave the results in DIR/results: the tests' lines, then an
# ERROR line for each program that reported fewer tests than it lists
# (--list) or nothing at all (it did not build), and one when make failed
# without a failing test to show for it.
check_in() {
    dir=$1
    programs=$2
    shift 2
    status=0
    make -C "$dir" -j"$jobs" check TESTS="$programs" "$@" >"$dir/check.out" 2>&1 || status=$?
    results_in "$dir" >"$dir/results"
    for p in $programs; do
        want=$("$dir/$p" --list 2>/dev/null |
            awk -F': ' '/^[^ ].*: [0-9]+ tests?$/ {n += $2} END {print n + 0}')
        got=$(awk -v p="$p" '$2 == p && $3 != "(program)"' "$dir/results" | wc -l)
        if [ "$got" -eq 0 ] || [ "$got" -lt "$want" ]; then
            echo "ERROR $p (program: ran $got of ${want:-?} tests; not built or cut short)" >>"$dir/results"
        fi
    done
    if [ "$status" -ne 0 ] && ! grep -q -E '^(FAIL|ERROR|XPASS) ' "$dir/results"; then
        echo "ERROR make check (exit status $status in $dir)" >>"$dir/results"
    fi
    if grep -q -E '^(FAIL|ERROR|XPASS) ' "$dir/results"; then
        grep -E '^(FAIL|ERROR|XPASS)' "$dir/check.out" >&2 || tail -40 "$dir/check.out" >&2
        grep -E '^ERROR .*not built or cut short|^ERROR make check' "$dir/results" >&2 || :
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

# first_closed_dir FILE: the first directory above FILE that the user
# mpbroker cannot enter ("" when it can read FILE).
first_closed_dir() {
    runuser -u mpbroker -- test -r "$1" 2>/dev/null && return 0
    d=$(dirname "$1")
    closed=$d
    while [ "$d" != / ]; do
        runuser -u mpbroker -- test -x "$d" 2>/dev/null || closed=$d
        d=$(dirname "$d")
    done
    echo "$closed"
}

# run_as_mpbroker_or_root: the shipped config drops root for the user
# mpbroker, who must read the config, the password file and the plugins
# again on a reload (SIGHUP; `mpbroker -t` checks it). A clone under a
# directory mpbroker cannot enter (root's home is 0700) cannot be: the
# quick-start broker then stays root (allow_root; it listens on loopback
# only), and says how to avoid it.
run_as_mpbroker_or_root() {
    conf=$top/_install/etc/mpbroker.conf
    closed=$(first_closed_dir "$top/_install/etc/mpbroker.passwd")
    if [ -z "$closed" ]; then
        sed -i -e 's|^# quickstart: user = "mpbroker";.*|user = "mpbroker";|' \
            -e '/^allow_root = true; # quickstart/d' "$conf"
        return 0
    fi
    say "the user mpbroker cannot enter $closed, so it could not re-read $top/_install on a reload: the quick-start broker runs as root (allow_root in $conf, loopback only); clone under a directory others can enter (e.g. /srv, /opt) to run it as mpbroker"
    if grep -q '^user = "mpbroker";' "$conf"; then
        sed -i 's|^user = "mpbroker";.*|# quickstart: user = "mpbroker"; (mpbroker cannot enter '"$closed"')\
allow_root = true; # quickstart: the clone is not readable by mpbroker|' "$conf"
    fi
}

# The build `run` installs from (and `cluster` runs from).
configure_build() {
    configure_in "$top/_build" --prefix="$top/_install" \
        --sysconfdir="$top/_install/etc" --runstatedir="$top/_install/run" \
        --disable-tests
}

cmd_run() {
    install_packages $build_packages
    bootstrap
    configure_build
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
    run_as_mpbroker_or_root


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

    say "to use the installed tools in another shell, run there:"
    say "    cd $top && eval \"\$(sh tools/quickstart.sh env)\""
    say "mpbroker keeps running (tcp 127.0.0.1:7330 and [::1]:7330, unix $top/_install/run/mpbroker/mpbroker.sock, WebSocket ws://127.0.0.1:7380/mp (the web demo: examples/web/README.md); users demo, echo, alice with secret \"demo\"). Ctrl-C stops it."
    trap 'kill -INT $broker 2>/dev/null' INT TERM
    wait $broker || true
    wait $broker 2>/dev/null || true
}

# Build, then tools/cluster-demo.sh: a redis-server and three brokers on
# loopback, an echo across them, and everything stopped again.
cmd_cluster() {
    install_packages $build_packages redis-server
    bootstrap
    # A tree configured in place (README, "Install") cannot also be built
    # out of tree: use that build.
    if [ -f "$top/config.status" ]; then
        build=$top
    else
        build=$top/_build
        configure_build
    fi
    say "make (in $build)"
    make -C "$build" -j"$jobs" >/dev/null
    exec sh "$top/tools/cluster-demo.sh" --build-dir "$build"
}

# The shell lines that make ./_install usable from a shell: its programs,
# man pages, library and pkg-config files come first.
cmd_env() {
    inst=$top/_install
    cat <<EOF
export PATH='$inst/bin:$inst/sbin':"\$PATH"
export MANPATH='$inst/share/man':"\${MANPATH:-}"
export LD_LIBRARY_PATH='$inst/lib'"\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export PKG_CONFIG_PATH='$inst/lib/pkgconfig'"\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}"
EOF
    [ -x "$inst/bin/mpcat" ] ||
        echo "echo '$inst is empty: run sh tools/quickstart.sh run first' >&2"
}

# install_check DIR RESULTS: `make install DESTDIR=...`, build the echo
# examples out of tree with pkg-config against what was installed, and run
# them through the installed broker with the installed plugins. Then a
# peer written only from the installed mp.proto (tests/protobuf/
# mp_pb_peer.py on the code protoc generates from it) talks to that
# echo_server. Appends two result lines ("PASS install pkg_config_echo",
# "PASS install protobuf_python_echo", or FAIL) to RESULTS.
install_check() {
    dir=$1
    stage=$(mktemp -d)
    status=FAIL
    pb_status=FAIL
    prefix=$(sed -n 's/^prefix = //p' "$dir/Makefile")
    root="$stage$prefix"
    if ! make -C "$dir" install DESTDIR="$stage" >"$stage/install.out" 2>&1; then
        cat "$stage/install.out" >&2
        echo "FAIL install pkg_config_echo" >>"$2"
        echo "FAIL install protobuf_python_echo" >>"$2"
        rm -rf "$stage"
        return
    fi
    flags=$(PKG_CONFIG_SYSROOT_DIR="$stage" PKG_CONFIG_PATH="$root/lib/pkgconfig" \
        pkg-config --cflags --libs libmpclient)
    printf '%s\n' "plugin_dir = \"$root/lib/mpbroker\"; allow_root = true;" \
        'translators = ( { name = "json"; module = "translator_json.so"; },' \
        '  { name = "binary"; module = "translator_binary.so"; },' \
        '  { name = "protobuf"; module = "translator_protobuf.so"; } );' \
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
            # The installed mp.proto is all a protobuf program needs.
            # Its data: non-ASCII ("installé") and empty.
            share="$root/share/mpbroker"
            word=$(printf 'install\303\251')
            if mkdir "$stage/pb" &&
                protoc --python_out="$stage/pb" -I"$share" "$share/mp.proto" \
                    >"$stage/protoc.out" 2>&1 &&
                "${MP_PYTHON:-/usr/bin/python3}" "$top/tests/protobuf/mp_pb_peer.py" \
                    --pb2-dir "$stage/pb" --timeout 20 -a "unix:$stage/mp.sock" \
                    -n pbpeer -s "$word" send echo echo "$word" "" \
                    >"$stage/pb_peer.out" 2>&1 &&
                grep -qx "reply \[$word\] from echo" "$stage/pb_peer.out" &&
                grep -qx "reply \[\] from echo" "$stage/pb_peer.out"; then
                pb_status=PASS
            fi
            kill -TERM $server 2>/dev/null
            wait $server 2>/dev/null
        fi
        kill -TERM $broker 2>/dev/null
        wait $broker || { status=FAIL; pb_status=FAIL; }
    fi
    if [ "$status" = FAIL ] || [ "$pb_status" = FAIL ]; then
        say "install check failed"
        cat "$stage"/*.log "$stage"/*.out >&2 2>/dev/null
    fi
    echo "$status install pkg_config_echo" >>"$2"
    echo "$pb_status install protobuf_python_echo" >>"$2"
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
    # What pytest collects is what must report: a run that dies half way
    # (an import error, a kill) fails each test it did not reach.
    export MPBROKER="$dir/broker/mpbroker" MP_PLUGIN_BUILD_DIR="$dir/plugins/.libs" \
        MPCAT="$dir/tools/mpcat" MP_EXAMPLES_DIR="$dir/examples"
    sh "$top/clients/python/run-tests.sh" --collect-only "$2.want" >&2 ||
        echo "FAIL python pytest_collect" >>"$2"
    sh "$top/clients/python/run-tests.sh" --results "$2.pytest" >&2 || :
    cat "$2.pytest" >>"$2" 2>/dev/null || :
    awk 'NR == FNR {ran[$3] = 1; next} !($1 in ran) {print "FAIL python " $1 " (did not run)"}' \
        "$2.pytest" "$2.want" >>"$2" 2>/dev/null || :
    [ -s "$2.want" ] || echo "FAIL python pytest (collected nothing)" >>"$2"
    unset MPBROKER MP_PLUGIN_BUILD_DIR MPCAT MP_EXAMPLES_DIR
    rm -f "$2.want"
    rm -f "$2.pytest"
}

# js_check BUILDDIR RESULTS: tests/js/run.sh against BUILDDIR's broker,
# mpcat and examples: clients/js's own tests, the web demo in headless
# Chromium, and the interop tests with C and Python. Appends "PASS js
# ..." lines to RESULTS; the screenshot goes to $MP_ARTIFACTS_DIR
# (default tests/js/artifacts).
js_check() {
    dir=$(cd "$1" && pwd)
    js_started=$(date +%s)
    MPBROKER="$dir/broker/mpbroker" MP_PLUGIN_BUILD_DIR="$dir/plugins/.libs" \
        MPCAT="$dir/tools/mpcat" MP_EXAMPLES_DIR="$dir/examples" \
        MPBROKER_PASSWD="$dir/tools/mpbroker-passwd" \
        sh "$top/tests/js/run.sh" "$2.js" >&2 || :
    cat "$2.js" >>"$2" 2>/dev/null || :
    [ -s "$2.js" ] || echo "FAIL js run.sh (reported nothing)" >>"$2"
    rm -f "$2.js"
    say "JavaScript stage: $(($(date +%s) - js_started)) s"
}

# java_check BUILDDIR RESULTS: clients/java/run-tests.sh (ant, JUnit 5)
# against BUILDDIR's broker, mpcat and examples: the Java client's own
# tests and its interop tests with C and Python. Appends "PASS java ..."
# lines to RESULTS (one "FAIL java run-tests.sh:..." when the build
# fails or a tool is missing).
java_check() {
    dir=$(cd "$1" && pwd)
    java_started=$(date +%s)
    MPBROKER="$dir/broker/mpbroker" MP_PLUGIN_BUILD_DIR="$dir/plugins/.libs" \
        MPCAT="$dir/tools/mpcat" MP_EXAMPLES_DIR="$dir/examples" \
        MPBROKER_PASSWD="$dir/tools/mpbroker-passwd" \
        sh "$top/clients/java/run-tests.sh" --results "$2.java" >&2 || :
    cat "$2.java" >>"$2" 2>/dev/null || :
    [ -s "$2.java" ] || echo "FAIL java run-tests.sh (reported nothing)" >>"$2"
    rm -f "$2.java"
    say "Java stage: $(($(date +%s) - java_started)) s"
}

cmd_test() {
    # shellcheck disable=SC2046
    install_packages $build_packages $test_packages $(js_packages)
    bootstrap
    results=$(mktemp -d)
    trap 'rm -rf "$results"' EXIT
    : >"$results/build"

    configure_in "$top/_build-test" --enable-werror
    say "build and test (plain)"
    build_in "$top/_build-test" "$results/build"
    check_in "$top/_build-test" "$(test_programs "$top/_build-test")"
    cp "$top/_build-test/results" "$results/plain"

    # Under valgrind: the broker of every integration test, which must
    # exit 0 without leaks or memory errors, and libmpclient's own tests.
    # The programs linked with libmpclient run once, with both the test
    # process (criterion's children are followed; the broker, openssl and
    # valgrind itself are not) and the broker it starts under valgrind;
    # the other integration programs run with their broker under it.
    valgrind="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"
    clients=$(client_programs "$top/_build-test" | sort -u | tr '\n' ' ')
    tests=
    for t in $(test_programs "$top/_build-test"); do
        case " $clients " in *" $t "*) continue ;; esac
        case $t in tests/integration/*) tests="$tests $t" ;; esac
    done
    say "integration tests with the broker under valgrind"
    check_in "$top/_build-test" "$tests" MP_BROKER_WRAPPER="$valgrind"
    cp "$top/_build-test/results" "$results/valgrind"
    say "libmpclient tests and their broker under valgrind"
    check_in "$top/_build-test" "$clients" MP_BROKER_WRAPPER="$valgrind" \
        MP_TEST_WRAPPER="valgrind -q --trace-children=yes --trace-children-skip=*valgrind*,*mpbroker*,*lt-mpbroker*,*openssl*,*/sh --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect"
    cp "$top/_build-test/results" "$results/valgrind-client"

    say "install check: out-of-tree build with pkg-config, installed broker"
    : >"$results/install"
    install_check "$top/_build-test" "$results/install"
    sh "$top/tests/systemd-verify.sh" "$top/_build-test" >>"$results/install" || :
    sh "$top/tests/man-lint.sh" "$top" | grep -E "^(PASS|FAIL) " >>"$results/install" || :
    # Its lines are shown through a file: `tee /dev/stderr` opened CI's log
    # again, truncating what the stages before had written.
    sh "$top/tests/symbols-check.sh" "$top" "$top/_build-test" >"$results/symbols" || :
    cat "$results/symbols" >&2
    grep -E "^(PASS|FAIL) " "$results/symbols" >>"$results/install" || :

    # The deb check and the README walkthrough change the system while
    # they run (packages, /etc, /usr/local, the user mpbroker) and undo it
    # after: they run in CI, or when asked.
    if [ "${CI:-}" = true ] || [ "${MP_SYSTEM_TESTS:-}" = 1 ]; then
        say "Debian packages: build, lintian, install, run, purge"
        sh "$top/tests/deb-check.sh" "$top" "$results/install" >&2 || :
        say "the README, followed top to bottom in one shell"
        sh "$top/tests/readme-walkthrough.sh" "$top" "$results/install" >&2 || :
    else
        say "SKIPPED: the Debian package check and the README walkthrough change the system (packages, /etc, /usr/local, the user mpbroker) while they run; MP_SYSTEM_TESTS=1 runs them"
        echo "SKIP deb all" >>"$results/install"
        echo "SKIP readme walkthrough" >>"$results/install"
    fi

    say "Python client: pip install, then its tests"
    : >"$results/python"
    python_check "$top/_build-test" "$results/python"

    say "JavaScript client and browser: its tests, the web demo in headless Chromium, interop with C and Python"
    : >"$results/js"
    js_check "$top/_build-test" "$results/js"

    say "Java client: its tests, interop with C and Python"
    : >"$results/java"
    java_check "$top/_build-test" "$results/java"

    # bench/compare.sh at a fraction of a second per target, so that
    # mpbench, the relay and every peer's driver keep working.
    say "benchmark smoke run: mpbroker, nats-server, mosquitto, redis-server, relay, socat, two clustered mpbrokers, a broker in a cluster, a 3-node nats-server cluster"
    sh "$top/bench/compare.sh" --build-dir "$top/_build-test" --smoke \
        2>"$results/bench.err" | grep -E '^(PASS|FAIL) ' >"$results/bench" || :
    # Every target compare.sh has must report, or the run died half way.
    for target in $(sh "$top/bench/compare.sh" --list-targets); do
        grep -q " bench $target\$" "$results/bench" ||
            echo "FAIL bench $target (no result)" >>"$results/bench"
    done
    if grep -q '^FAIL' "$results/bench"; then
        cat "$results/bench.err" >&2
    fi

    # The release tarball builds every program and installs cleanly, and
    # the tests that read distributed files at run time pass from it: the
    # unit suites, and the integration tests of the certificates, the
    # examples, the man pages and the gob captures (the plain stage ran
    # the whole suite from the tree already).
    say "make distcheck"
    dist_tests=
    for t in $(test_programs "$top/_build-test"); do
        case $t in
        tests/unit/* | */test_tls | */test_examples | */test_man_example | */test_gob)
            dist_tests="$dist_tests $t" ;;
        esac
    done
    if make -C "$top/_build-test" -j"$jobs" distcheck TESTS="$dist_tests" \
        >"$results/distcheck.out" 2>&1; then
        echo "PASS dist distcheck" >>"$results/install"
    else
        tail -n 40 "$results/distcheck.out" >&2
        echo "FAIL dist distcheck" >>"$results/install"
    fi

    configure_in "$top/_build-asan" --enable-werror --enable-sanitizers
    say "build and test (ASan+UBSan)"
    build_in "$top/_build-asan" "$results/build"
    check_in "$top/_build-asan" "$(test_programs "$top/_build-asan")"
    cp "$top/_build-asan/results" "$results/asan"

    say "fuzzing: each harness for ${MP_FUZZ_SECONDS:-15} s"
    sh "$top/tools/fuzz.sh" "${MP_FUZZ_SECONDS:-15}" >"$results/fuzz" ||
        say "a fuzz harness failed (see above)"
    grep -E '^(PASS|FAIL) ' "$results/fuzz" >"$results/fuzz.results" || :
    [ -s "$results/fuzz.results" ] || echo "FAIL fuzz harnesses" >"$results/fuzz.results"

    summarize "plain build" "$results/plain"
    summarize "broker under valgrind" "$results/valgrind"
    summarize "libmpclient and its broker under valgrind" "$results/valgrind-client"
    summarize "ASan+UBSan build" "$results/asan"
    summarize "install check" "$results/install"
    summarize "Python client" "$results/python"
    summarize "JavaScript client and browser" "$results/js"
    summarize "Java client" "$results/java"
    summarize "benchmark smoke" "$results/bench"
    summarize "fuzzing" "$results/fuzz.results"
    summarize "builds" "$results/build"
    # A test passes when it passed in every run it is part of.
    cat "$results/plain" "$results/valgrind" "$results/valgrind-client" \
        "$results/asan" "$results/install" "$results/python" "$results/js" "$results/java" \
        "$results/bench" \
        "$results/fuzz.results" "$results/build" | awk '
        {key = $2 " " $3; seen[key] = 1}
        $1 == "FAIL" || $1 == "ERROR" || $1 == "XPASS" {bad[key] = 1}
        $1 == "PASS" || $1 == "XFAIL" {good[key] = 1}
        END {
            for (k in seen) {
                if (k in bad) f++; else if (k in good) p++; else sk++
            }
            if (p + f == 0) { print "no test ran" > "/dev/stderr"; f = 1 }
            # A test no run ran is named; in CI, where every stage can
            # run, it fails.
            for (k in seen)
                if (!(k in bad) && !(k in good)) print "skipped everywhere: " k
            if (sk && ENVIRON["CI"] == "true") f += sk
            printf "tests: %d passed, %d failed\n", p, f
            exit f > 0
        }'
}

case ${1:-} in
run) cmd_run ;;
env) cmd_env ;;
cluster) cmd_cluster ;;
test) cmd_test ;;
*)
    echo "usage: sh tools/quickstart.sh run|env|cluster|test" >&2
    exit 2
    ;;
esac
