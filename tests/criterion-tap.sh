#!/bin/sh
# Run one criterion test program with its report in TAP on stdout, for
# automake's tap-driver. The report goes through a file of its own so that
# nothing else the program (or a sanitizer) writes to stderr can break a
# TAP line; that output follows the report as TAP comments. Set
# MP_TEST_WRAPPER (e.g. "valgrind -q --error-exitcode=99") to run the
# program under a tool.
prog=$1
shift
tap=$(mktemp) || exit 99
err=$(mktemp) || exit 99
$MP_TEST_WRAPPER "$prog" --tap="$tap" "$@" 2>"$err"
rc=$?
cat "$tap"
sed 's/^/# /' "$err"
rm -f "$tap" "$err"
exit $rc
