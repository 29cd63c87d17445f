#!/bin/sh
# Run one criterion test program with its report in TAP on stdout, for
# automake's tap-driver. Set MP_TEST_WRAPPER (e.g. "valgrind -q
# --error-exitcode=99") to run the program under a tool.
prog=$1
shift
exec $MP_TEST_WRAPPER "$prog" --tap=- "$@" 2>&1
