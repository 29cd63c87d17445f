# Integration tests: the real mpbroker from the build tree, started with a
# generated config on ephemeral loopback ports, driven by raw sockets.
check_LTLIBRARIES += tests/support/libmptest.la
tests_support_libmptest_la_SOURCES = \
	tests/support/harness.c tests/support/harness.h \
	tests/support/rawclient.c tests/support/rawclient.h
tests_support_libmptest_la_CFLAGS = $(TEST_CFLAGS)

check_PROGRAMS += tests/integration/test_broker
TESTS += tests/integration/test_broker
tests_integration_test_broker_SOURCES = tests/integration/test_broker.c
tests_integration_test_broker_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/tests/support
tests_integration_test_broker_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_broker_LDADD = tests/support/libmptest.la \
	common/libmpcommon.la $(TEST_LIBS) -lpthread
