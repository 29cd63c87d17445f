#!/bin/sh
# run-tests.sh - the Python client's tests, against the real broker.
#
#   sh clients/python/run-tests.sh [--results FILE] [PYTEST ARGS...]
#   sh clients/python/run-tests.sh --collect-only FILE
#
# Runs `python3 -m pytest -q` on clients/python/tests (pytest's usual
# summary line ends the output) and exits with pytest's status. With
# --results FILE, it also writes one line per test to FILE:
#     PASS python test_client::test_echo_round_trip[json]
#     FAIL python test_tls::test_tls_client_certificate
# (SKIP for a skipped test.) --collect-only FILE runs no test: it writes
# the name of each test pytest collects to FILE, one per line, as
# --results names them, so that a caller can tell a run that stopped half
# way. The environment goes through unchanged:
# MPBROKER, MP_PLUGIN_BUILD_DIR, MPCAT, MP_EXAMPLES_DIR,
# MP_BROKER_WRAPPER, MP_TEST_TIMEOUT_SCALE, MP_TEST_VERBOSE (see
# tests/conftest.py); PYTHON picks the interpreter (default: Debian's
# /usr/bin/python3 when it exists, else python3), which needs pytest
# (Debian: apt-get install python3-pytest).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
results=
collect=
while [ $# -gt 0 ]; do
    case $1 in
    --results) results=$2; shift 2 ;;
    --results=*) results=${1#--results=}; shift ;;
    --collect-only) collect=$2; shift 2 ;;
    *) break ;;
    esac
done

if [ -z "${PYTHON:-}" ]; then
    if [ -x /usr/bin/python3 ]; then PYTHON=/usr/bin/python3; else PYTHON=python3; fi
fi

case $results in
"") ;;
/*) ;;
*) results=$(pwd)/$results ;;
esac
case $collect in
"") ;;
/*) ;;
*) collect=$(pwd)/$collect ;;
esac

cd "$here"
if ! "$PYTHON" -c 'import pytest' 2>/dev/null; then
    echo "run-tests.sh: $PYTHON has no pytest (Debian: apt-get install python3-pytest)" >&2
    [ -z "$results" ] || echo "FAIL python run-tests.sh:pytest_missing" >"$results"
    exit 1
fi
if [ -n "$collect" ]; then
    status=0
    PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -m pytest tests -q --collect-only \
        -p no:cacheprovider >"$collect.out" || status=$?
    sed -n 's|^tests/\([^:/]*\)\.py::|\1::|p' "$collect.out" | tr ' ' '_' >"$collect"
    [ $status -eq 0 ] || cat "$collect.out" >&2
    rm -f "$collect.out"
    exit $status
fi
set -- -q -p no:cacheprovider "$@"
if [ -n "$results" ]; then
    : >"$results"
    set -- "$@" --results-file "$results"
fi
# PYTHONDONTWRITEBYTECODE: no __pycache__ left in the source tree.
PYTHONDONTWRITEBYTECODE=1 exec "$PYTHON" -m pytest tests "$@"
