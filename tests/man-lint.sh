#!/bin/sh
# Lint the manual pages with mandoc: `mandoc -Tlint -W warning` must print
# nothing and succeed for each page of doc/man/.
#
#     sh tests/man-lint.sh [SRCDIR]      # SRCDIR: the source tree (default:
#                                        # the one this script is in)
#
# Prints "PASS man PAGE" or "FAIL man PAGE" (then mandoc's messages) for
# each page, and exits 0 if every page passed, 1 if one failed, 77 (the
# automake code for "skipped") if mandoc is not installed
# (Debian: apt-get install mandoc).
srcdir=${1:-$(dirname "$0")/..}
MANDOC=${MANDOC:-mandoc}

if ! command -v "$MANDOC" >/dev/null 2>&1; then
    echo "SKIP man: $MANDOC not found (apt-get install mandoc)"
    exit 77
fi

status=0
found=0
for page in "$srcdir"/doc/man/*.[1-9]; do
    test -f "$page" || continue
    found=1
    name=${page##*/}
    if out=$("$MANDOC" -Tlint -W warning "$page" 2>&1) && test -z "$out"; then
        echo "PASS man $name"
    else
        echo "FAIL man $name"
        printf '%s\n' "$out" | sed 's/^/    /'
        status=1
    fi
done
if test $found = 0; then
    echo "FAIL man: no page in $srcdir/doc/man"
    status=1
fi
exit $status
