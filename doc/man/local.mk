# Manual pages (mdoc(7)). Paths that depend on configure (sysconfdir,
# pkglibdir) are written with the default prefix, /usr/local, and the
# pages say so, so the pages are plain source files: nothing to generate.
#
# `make man-lint` (or `sh tests/man-lint.sh SRCDIR`) runs mandoc -Tlint on
# each page; tests/man.mk keeps mpbroker.conf.5 in sync with the parser.
MAN_PAGES = \
	doc/man/mpcat.1 \
	doc/man/mpbroker-passwd.1 \
	doc/man/libmpclient.3 \
	doc/man/mpbroker.conf.5 \
	doc/man/mpbroker-plugin.7 \
	doc/man/mpbroker.8
dist_man_MANS = $(MAN_PAGES)
EXTRA_DIST += tests/man-lint.sh

man-lint:
	$(SHELL) $(top_srcdir)/tests/man-lint.sh $(top_srcdir)

.PHONY: man-lint
