#!/bin/sh
# fuzz.sh - build the libFuzzer harnesses of tests/fuzz and run each one.
#
#   sh tools/fuzz.sh [SECONDS]   run every harness for SECONDS (default 30),
#                                as many at once as there are cores, and
#                                print one line per harness:
#                                  PASS fuzz fuzz_json (N execs)
#                                  FAIL fuzz fuzz_json (why; reproducer)
#                                exit status 1 if any failed
#   sh tools/fuzz.sh 0           only build
#
# The build is out of tree in _build-fuzz (CC=clang --enable-fuzzing
# --disable-tests); the Debian packages it needs are installed (as root,
# with apt-get) when missing. Each harness starts from a temporary copy of
# its corpus in tests/fuzz/corpus/NAME: nothing is written into the source
# tree. Crash reproducers and each harness's last log go to
# _build-fuzz/artifacts.
#
# Environment:
#   FUZZ_HARNESSES  the harnesses to run (default: all twelve)
#   FUZZ_KEEP_CORPUS=DIR  copy each grown corpus to DIR/NAME afterwards
#   FUZZ_ARGS       more libFuzzer options for every harness
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/_build-fuzz
seconds=${1:-30}
harnesses=${FUZZ_HARNESSES:-fuzz_json fuzz_binary fuzz_gob fuzz_config fuzz_session fuzz_passwd fuzz_acl fuzz_http fuzz_link_frame fuzz_ws fuzz_ws_handshake fuzz_protobuf}
jobs=$(nproc 2>/dev/null || echo 2)

packages="autoconf automake libtool pkg-config make clang libclang-rt-dev
libevent-dev libyajl-dev libconfig-dev libcrypt-dev libssl-dev libhiredis-dev
protobuf-c-compiler libprotobuf-c-dev"

case $seconds in
'' | *[!0-9]*)
    echo "usage: sh tools/fuzz.sh [SECONDS]" >&2
    exit 2
    ;;
esac

. "$top/tools/packages.sh"

# A source tree configured in place refuses out-of-tree builds. Rather
# than touch it (make distclean), build from a tree of symlinks to its
# files in $build/src: edits show through, generated files stay there.
link_tree() {
    src=$build/src
    if ! command -v git >/dev/null || ! git -C "$top" rev-parse >/dev/null 2>&1; then
        echo "fuzz.sh: $top is configured in-tree and is not a git checkout;" \
            "run 'make distclean' there, or fuzz a clean copy" >&2
        exit 1
    fi
    mkdir -p "$src"
    # Links to files that went away; then one link per source file.
    find "$src" -type l ! -exec test -e {} \; -exec rm -f {} +
    git -C "$top" ls-files -co --exclude-standard | while IFS= read -r f; do
        [ -e "$src/$f" ] && continue
        mkdir -p "$src/$(dirname "$f")"
        ln -s "$top/$f" "$src/$f"
    done
}

source_dir() {
    if [ -f "$top/config.status" ]; then
        link_tree
        echo "$build/src"
    else
        echo "$top"
    fi
}

build_harnesses() {
    mkdir -p "$build"
    src=$(source_dir)
    # A build configured from another source dir (the tree was configured
    # or cleaned in place since) starts over.
    if [ -f "$build/Makefile" ] &&
        [ "$(sed -n 's/^abs_top_srcdir = //p' "$build/Makefile")" != "$src" ]; then
        say "source directory changed: reconfiguring $build"
        make -C "$build" distclean >/dev/null 2>&1 || :
    fi
    if [ ! -x "$src/configure" ] || [ ! -f "$src/Makefile.in" ] ||
        [ "$src/configure.ac" -nt "$src/configure" ]; then
        say "autoreconf in $src"
        (cd "$src" && autoreconf -fi >"$build/autoreconf.out" 2>&1) || {
            cat "$build/autoreconf.out" >&2
            exit 1
        }
    fi
    if [ ! -f "$build/Makefile" ] || [ "$src/configure" -nt "$build/Makefile" ]; then
        say "configure in $build"
        (cd "$build" && "$src/configure" -q CC=clang --enable-fuzzing \
            --disable-tests)
    fi
    say "make in $build"
    make -C "$build" -j"$jobs" >"$build/make.out" 2>&1 || {
        tail -40 "$build/make.out" >&2
        echo "fuzz.sh: the build failed (log: $build/make.out)" >&2
        exit 1
    }
}

# run_one NAME: fuzz one harness for $seconds; prints its result line and
# returns non-zero if it failed.
run_one() {
    name=$1
    work=$(mktemp -d)
    artifacts=$build/artifacts
    mkdir -p "$work/corpus" "$work/tmp" "$artifacts"
    if [ -d "$top/tests/fuzz/corpus/$name" ]; then
        cp -R "$top/tests/fuzz/corpus/$name/." "$work/corpus/"
    fi
    dict=
    [ -f "$top/tests/fuzz/$name.dict" ] && dict="-dict=$top/tests/fuzz/$name.dict"
    status=0
    # shellcheck disable=SC2086
    TMPDIR=$work/tmp "$build/tests/fuzz/$name" -max_total_time="$seconds" \
        -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/$name-" $dict ${FUZZ_ARGS:-} \
        "$work/corpus" >"$artifacts/$name.log" 2>&1 || status=$?
    log=$artifacts/$name.log
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    if [ "$status" -eq 0 ]; then
        echo "PASS fuzz $name (${execs:-?} execs)"
    else
        artifact=$(sed -n 's/.*Test unit written to \([^ ]*\).*/\1/p' "$log" | tail -1)
        why=$(grep -m1 -E '^==[0-9]+==ERROR|check failed|^SUMMARY|deadly signal|timeout|out-of-memory' \
            "$log" || echo "exit $status")
        echo "FAIL fuzz $name ($why; reproducer: ${artifact:-none})"
        say "$name failed; its log: $log"
        tail -60 "$log" >&2
    fi
    if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
        mkdir -p "$FUZZ_KEEP_CORPUS/$name"
        cp -R "$work/corpus/." "$FUZZ_KEEP_CORPUS/$name/"
    fi
    rm -rf "$work"
    return "$status"
}

# shellcheck disable=SC2086
install_packages $packages
build_harnesses
[ "$seconds" -eq 0 ] && exit 0

# One harness per core at a time: each is single-threaded and runs for a
# fixed time, so $jobs lanes take 1/$jobs of the wall time with the same
# executions each. Harnesses are dealt to the lanes in turn; their lines
# are printed afterwards in the list's order.
lanes=$(mktemp -d)
i=0
for h in $harnesses; do
    echo "$h" >>"$lanes/lane$((i % jobs))"
    i=$((i + 1))
done
for lane in "$lanes"/lane*; do
    while read -r h; do
        run_one "$h" >"$lanes/$h.out" || : >"$lanes/$h.failed"
    done <"$lane" &
done
wait
failed=0
for h in $harnesses; do
    cat "$lanes/$h.out" 2>/dev/null || echo "FAIL fuzz $h (no result)"
    [ -f "$lanes/$h.out" ] && [ ! -f "$lanes/$h.failed" ] || failed=1
done
rm -rf "$lanes"
exit "$failed"
