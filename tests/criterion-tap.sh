#!/bin/sh
# Run one criterion test program with its report in TAP on stdout, for
# automake's tap-driver. The report goes through a file of its own so that
# nothing else the program (or a sanitizer) writes to stderr can break a
# TAP line; that output follows the report as TAP comments. Set
# MP_TEST_WRAPPER (e.g. "valgrind -q --error-exitcode=99") to run the
# program under a tool.
#
# Each program has a time limit, so that a hung test fails the run
# instead of stalling it: 120 s for a unit suite (tests/unit), 900 s for
# the others (their tests have criterion timeouts of their own), ten
# times that under a wrapper or with the broker under one;
# MP_TEST_PROGRAM_TIMEOUT sets it in seconds.
prog=$1
shift
case $prog in
*/unit/*) limit=120 ;;
*) limit=900 ;;
esac
[ -n "${MP_TEST_WRAPPER:-}${MP_BROKER_WRAPPER:-}" ] && limit=$((limit * 10))
limit=${MP_TEST_PROGRAM_TIMEOUT:-$limit}
tap=$(mktemp) || exit 99
err=$(mktemp) || exit 99
timeout -k 10 "$limit" $MP_TEST_WRAPPER "$prog" --tap="$tap" "$@" 2>"$err"
rc=$?
cat "$tap"
if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    echo "Bail out! ${prog##*/} did not finish within $limit s (MP_TEST_PROGRAM_TIMEOUT)"
fi
sed 's/^/# /' "$err"
rm -f "$tap" "$err"
exit $rc
