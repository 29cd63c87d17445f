# The criterion test suite. Every test program speaks TAP (through
# tests/criterion-tap.sh), so automake counts individual tests.
if ENABLE_TESTS
LOG_DRIVER = env AM_TAP_AWK='$(AWK)' $(SHELL) $(top_srcdir)/build-aux/tap-driver.sh
LOG_COMPILER = $(SHELL) $(top_srcdir)/tests/criterion-tap.sh
AM_TESTS_ENVIRONMENT = \
	MP_BUILDDIR='$(abs_top_builddir)'; export MP_BUILDDIR; \
	MP_SRCDIR='$(abs_top_srcdir)'; export MP_SRCDIR; \
	MPBROKER='$(abs_top_builddir)/broker/mpbroker'; export MPBROKER; \
	MP_PLUGIN_BUILD_DIR='$(abs_top_builddir)/plugins/.libs'; export MP_PLUGIN_BUILD_DIR; \
	MP_TEST_PLUGIN_DIR='$(abs_top_builddir)/tests/plugins/.libs'; export MP_TEST_PLUGIN_DIR; \
	MPCAT='$(abs_top_builddir)/tools/mpcat'; export MPCAT; \
	MP_EXAMPLES_DIR='$(abs_top_builddir)/examples'; export MP_EXAMPLES_DIR; \
	LSAN_OPTIONS="suppressions=$(abs_top_srcdir)/tests/lsan.supp print_suppressions=0 $${LSAN_OPTIONS:-}"; export LSAN_OPTIONS;

TEST_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
TEST_LIBS = $(CRITERION_LIBS)

# Loadable test-only plugins: built for `make check`, never installed.
TEST_PLUGIN_LDFLAGS = $(PLUGIN_LDFLAGS) -rpath /nowhere

include tests/unit/local.mk
include tests/codec.mk
include tests/auth.mk
include tests/integration/local.mk
include tests/gob.mk
include tests/client.mk
include tests/acl.mk
include tests/examples.mk
include tests/hardening.mk
include tests/tls.mk
include tests/man.mk
include tests/cluster.mk
include tests/level2.mk
endif

# tools/quickstart.sh asks which programs the suite has, so that none of
# its stages keeps a copy of the list.
print-tests:
	@echo $(TESTS)
.PHONY: print-tests

EXTRA_DIST += tests/data/wire/go-gob-transcript.txt \
	tests/data/wire/go-json-transcript.txt
EXTRA_DIST += tests/criterion-tap.sh tests/symbols-check.sh tests/lsan.supp tests/support/make-certs.sh \
	tests/systemd-verify.sh

# protoc-c's code for proto/mp.proto: the protobuf format's independent
# reference (libprotobuf-c) in test_codec_protobuf and fuzz_protobuf.
# Generated in the build tree at build time, never distributed: only the
# tests and the fuzzing build need protoc-c (configure requires it then).
# Its own library so that what protoc-c's code trips (-Wmissing-braces,
# in the initializer of its .c) is silenced for that code alone.
PROTO_REF_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)/tests/proto \
	$(PROTOBUF_C_CFLAGS)
PROTO_REF_LIBS = tests/proto/libmpproto_ref.la $(PROTOBUF_C_LIBS)
if ENABLE_FUZZING
noinst_LTLIBRARIES += tests/proto/libmpproto_ref.la
else
if ENABLE_TESTS
check_LTLIBRARIES += tests/proto/libmpproto_ref.la
endif
endif
nodist_tests_proto_libmpproto_ref_la_SOURCES = tests/proto/mp.pb-c.c \
	tests/proto/mp.pb-c.h
tests_proto_libmpproto_ref_la_CPPFLAGS = $(PROTO_REF_CPPFLAGS)
tests_proto_libmpproto_ref_la_CFLAGS = $(AM_CFLAGS) -Wno-missing-braces
CLEANFILES += tests/proto/mp.pb-c.c tests/proto/mp.pb-c.h

tests/proto/mp.pb-c.c: $(top_srcdir)/proto/mp.proto
	$(AM_V_GEN)$(MKDIR_P) tests/proto && \
	$(PROTOC_C) --proto_path=$(top_srcdir)/proto --c_out=tests/proto \
	  $(top_srcdir)/proto/mp.proto
# protoc-c writes both files at once; the header comes with the .c.
tests/proto/mp.pb-c.h: tests/proto/mp.pb-c.c
	@test -f $@ || rm -f tests/proto/mp.pb-c.c
	@test -f $@ || $(MAKE) $(AM_MAKEFLAGS) tests/proto/mp.pb-c.c
