#!/bin/sh
# run.sh - the JavaScript tests: the client's own (clients/js, `npm
# test`), the web demo in headless Chromium (browser.test.mjs) and the
# interop tests with the C programs and the Python client
# (interop.test.mjs).
#
#   sh tests/js/run.sh [RESULTS]
#
# First it installs what is missing: `npm ci` in clients/js and here when
# node_modules is absent or older than package-lock.json, and `npm run
# build` in clients/js when dist/ is older than the sources. Then it runs
# each part with node's TAP reporter and writes one line per test to
# RESULTS (default: results.txt in a fresh temporary directory, printed):
#     PASS js client/...                     clients/js's tests
#     PASS js browser/page_logs_in_over_websocket
#     FAIL js interop/ws_json/js_talks_to_python
# A test that did not report (its file crashed, a hook hung) is a FAIL
# "(did not run)": the names come from a listing run of each file
# (MP_JS_LIST=1). Without /usr/bin/chromium (Debian: apt-get install
# chromium) every browser test FAILs, saying so. Exit status: 0 when
# nothing failed.
#
# The environment goes through to the tests (tests/js/lib/harness.mjs):
# MPBROKER, MP_PLUGIN_BUILD_DIR, MPCAT, MP_EXAMPLES_DIR (default: the
# build in MP_BUILD_DIR, else _build), MPBROKER_PASSWD (default: the
# tools/mpbroker-passwd beside MPBROKER), MP_TEST_TIMEOUT_SCALE,
# MP_TEST_VERBOSE, PYTHON; MP_ARTIFACTS_DIR is where the browser test
# saves its screenshot and run.sh the TAP of each part (default
# tests/js/artifacts), MP_CHROMIUM the
# browser it drives (default /usr/bin/chromium).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
client=$top/clients/js
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The TAP of each part is kept beside the screenshot, for a look after a
# failure (CI's artifacts).
artifacts=${MP_ARTIFACTS_DIR:-$here/artifacts}
case $artifacts in
/*) ;;
*) artifacts=$(pwd)/$artifacts ;;
esac
export MP_ARTIFACTS_DIR="$artifacts"
mkdir -p "$artifacts"
rm -f "$artifacts/client.tap" "$artifacts/browser.tap" "$artifacts/interop.tap"

results=${1:-}
case $results in
"") results=$(mktemp -d)/results.txt ;;
/*) ;;
*) results=$(pwd)/$results ;;
esac
: >"$results"

note() { printf 'run.sh: %s\n' "$*" >&2; }

# clients/js's tests write password files with mpbroker-passwd: take the
# one built beside MPBROKER (a build directory of any name, as CI's
# _build-test), unless told otherwise.
if [ -z "${MPBROKER_PASSWD:-}" ] && [ -n "${MPBROKER:-}" ]; then
    passwd_tool=$(dirname "$(dirname "$MPBROKER")")/tools/mpbroker-passwd
    [ -x "$passwd_tool" ] && export MPBROKER_PASSWD="$passwd_tool"
fi

# npm_ci DIR: `npm ci` unless DIR's node_modules is newer than its lock.
npm_ci() {
    if [ ! -d "$1/node_modules" ] || [ "$1/package-lock.json" -nt "$1/node_modules" ]; then
        note "npm ci in $1"
        (cd "$1" && npm ci --no-audit --no-fund --loglevel=error) >&2 || return 1
        touch "$1/node_modules"
    fi
}

# built: clients/js/dist is there and newer than every source.
built() {
    [ -f "$client/dist/browser.js" ] && [ -f "$client/dist/index.js" ] &&
        [ -z "$(find "$client/src" "$client/package.json" "$client/tsconfig.json" \
            -newer "$client/dist/index.js" 2>/dev/null | head -n 1)" ]
}

# report PREFIX TAP WANT STATUS: the result lines of one part from its
# TAP; a wanted name without a line FAILs "(did not run)"; a part that
# exited non-zero with no failure to show for it, or that reported
# nothing, FAILs as a whole.
report() {
    node "$here/tap-results.mjs" "$1" <"$2" >"$work/part"
    if [ -n "$3" ]; then
        awk 'NR == FNR {ran[$3] = 1; next} !($1 in ran) {print "FAIL js " $1 " (did not run)"}' \
            "$work/part" "$3" >"$work/missing"
        cat "$work/missing" >>"$work/part"
    fi
    if [ ! -s "$work/part" ]; then
        echo "FAIL js $1/tests (none reported; exit status $4)" >>"$work/part"
    elif [ "$4" -ne 0 ] && ! grep -q '^FAIL ' "$work/part"; then
        echo "FAIL js $1/exit_status (exit status $4 without a failing test)" >>"$work/part"
    fi
    cat "$work/part" >>"$results"
    if grep -q '^FAIL ' "$work/part"; then
        note "$1: failures (the whole TAP: $2):"
        grep -E -A14 '^ *not ok ' "$2" >&2 || :
    fi
}

# fail_all PREFIX WANT REASON: every wanted test of a part FAILs.
fail_all() {
    if [ -s "$2" ]; then
        sed "s|\$| ($3)|; s|^|FAIL js |" "$2" >>"$results"
    else
        echo "FAIL js $1/tests ($3)" >>"$results"
    fi
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    note "node and npm are needed (Debian: apt-get install nodejs npm)"
    echo "FAIL js setup/node (node or npm missing)" >>"$results"
    cat "$results"
    exit 1
fi

# Install and build. A failure here fails what needs it: everything needs
# the client; only the browser test needs tests/js's packages
# (playwright-core).
client_ok=true
tests_ok=true
npm_ci "$client" || { client_ok=false; echo "FAIL js setup/npm_ci_client" >>"$results"; }
npm_ci "$here" || { tests_ok=false; echo "FAIL js setup/npm_ci_tests" >>"$results"; }
if $client_ok && ! built; then
    note "npm run build in $client"
    (cd "$client" && npm run build --silent) >&2 ||
        { client_ok=false; echo "FAIL js setup/build_client" >>"$results"; }
fi

# The names of each file's tests, from a listing run (nothing starts).
for part in browser interop; do
    MP_JS_LIST=1 node --test --test-reporter=tap "$here/$part.test.mjs" 2>"$work/$part.list.err" |
        node "$here/tap-results.mjs" --names "$part" >"$work/$part.want"
    [ -s "$work/$part.want" ] || cat "$work/$part.list.err" >&2
done

# run_part PART: node --test of PART.test.mjs here, reported.
run_part() {
    status=0
    (cd "$here" && node --test --test-reporter=tap "$1.test.mjs") >"$artifacts/$1.tap" 2>"$work/$1.err" || status=$?
    [ "$status" -eq 0 ] || cat "$work/$1.err" >&2
    report "$1" "$artifacts/$1.tap" "$work/$1.want" "$status"
}

# clients/js: its `npm test`, with a TAP reporter added through
# NODE_OPTIONS (its own reporter keeps writing to stdout).
if $client_ok; then
    reporters=$(cd "$client" && npm pkg get scripts.test | grep -o -e '--test-reporter=' | wc -l)
    destinations=$(cd "$client" && npm pkg get scripts.test | grep -o -e '--test-reporter-destination' | wc -l)
    extra=
    [ "$reporters" -gt "$destinations" ] && extra=" --test-reporter-destination=stdout"
    note "clients/js: npm test"
    status=0
    (cd "$client" && NODE_OPTIONS="--test-reporter=tap --test-reporter-destination=$artifacts/client.tap$extra" \
        npm test) >"$work/client.out" 2>&1 || status=$?
    [ -f "$artifacts/client.tap" ] || : >"$artifacts/client.tap"
    [ "$status" -eq 0 ] || tail -n 40 "$work/client.out" >&2
    report client "$artifacts/client.tap" "" "$status"
else
    fail_all client "" "the client did not install or build"
fi

# The browser test, unless there is no browser to run.
chromium=${MP_CHROMIUM:-/usr/bin/chromium}
if ! $client_ok || ! $tests_ok; then
    fail_all browser "$work/browser.want" "setup failed"
elif [ -x "$chromium" ]; then
    note "browser test (Chromium $("$chromium" --version 2>/dev/null | sed -n 's/^Chromium \([^ ]*\).*/\1/p'))"
    run_part browser
else
    note "no $chromium: every browser test fails (Debian: apt-get install chromium)"
    fail_all browser "$work/browser.want" "Chromium missing: apt-get install chromium"
fi

if $client_ok; then
    note "interop tests"
    run_part interop
else
    fail_all interop "$work/interop.want" "the client did not install or build"
fi

awk '$1 == "PASS" {p++} $1 == "FAIL" {f++} $1 == "SKIP" {s++}
    END {printf "js: %d passed, %d failed, %d skipped\n", p, f, s}' "$results" >&2
note "results in $results"
screenshot=$artifacts/web-chat.png
[ ! -f "$screenshot" ] || note "the web demo's screenshot: $screenshot"
! grep -q '^FAIL ' "$results"
