#!/bin/sh
# Check that debian/libmpclient0.symbols lists exactly the symbols the
# built libmpclient exports: a symbol added to the library and not to the
# file fails the Debian build's dpkg-gensymbols (and lintian), late in
# CI; one listed and no longer exported is an ABI break.
#
#     sh tests/symbols-check.sh SRCDIR BUILDDIR
#
# Prints "PASS symbols libmpclient0" or "FAIL symbols libmpclient0" with
# the names missing on either side, and exits 0 or 1; 77 (skipped) when
# the library is not built (--disable-client) or nm is missing.
srcdir=$1
builddir=$2
lib=$builddir/libmpclient/.libs/libmpclient.so
symbols=$srcdir/debian/libmpclient0.symbols

if ! test -f "$lib" || ! command -v nm >/dev/null 2>&1; then
    echo "SKIP symbols libmpclient0: no $lib or no nm"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Defined (not U) dynamic symbols, without their version tag.
nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//' |
    grep -v '^_' | sort -u >"$tmp/exported"
sed -n 's/^ \([A-Za-z_][A-Za-z0-9_]*\)@Base .*/\1/p' "$symbols" |
    sort -u >"$tmp/listed"
if cmp -s "$tmp/exported" "$tmp/listed"; then
    echo "PASS symbols libmpclient0"
    exit 0
fi
echo "FAIL symbols libmpclient0"
comm -23 "$tmp/exported" "$tmp/listed" |
    sed 's/^/    exported, not in debian\/libmpclient0.symbols: /'
comm -13 "$tmp/exported" "$tmp/listed" |
    sed 's/^/    in debian\/libmpclient0.symbols, not exported: /'
exit 1
